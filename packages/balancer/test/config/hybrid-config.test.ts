// `strategy.hybrid` in a config: loaded, merged with the defaults, and every bad setting an error
// naming its key (and line, from a file), whatever strategy the pool uses.
import { ConfigError } from '../../src/errors';
import { parseConfig, resolveConfig } from '../../src/config';
import { HybridStrategy, StrategyFactory } from '../../src/strategies';
import { issuesOf } from './helpers';

const NODES = 'nodes:\n  - { id: small, url: "http://a:11434", tags: [small] }\n  - { id: big, url: "http://b:11434", tags: [big] }\n';

describe('strategy.hybrid', () => {
  test('a config file sets weights and rules; missing weights keep their defaults', () => {
    const text = [
      NODES,
      'strategy:',
      '  type: hybrid',
      '  hybrid:',
      '    weights: { capacity: 0.5, affinity: 0.5 }',
      '    rules:',
      '      - name: large models to the big node',
      '        match: { model: "*:32b" }',
      '        require: { tags: [big] }',
      '      - match: { priority: high, complexity: [high, hard] }',
      '        prefer: { nodes: [big] }',
      '        weight: 2',
      '',
    ].join('\n');
    const r = parseConfig(text, 'c.yaml', { strategies: StrategyFactory.accepts });
    expect(r.warnings).toEqual([]);
    expect(r.config.strategy.hybrid?.weights).toEqual({ capacity: 0.5, health: 0.3, responseTime: 0.2, affinity: 0.5 });
    expect(r.config.strategy.hybrid?.rules).toHaveLength(2);
    const s = StrategyFactory.create(r.config.strategy.type, { hybrid: r.config.strategy.hybrid }) as HybridStrategy;
    expect(s.settings.weights.capacity).toBeCloseTo(0.5 / 1.5, 12);
    expect(s.settings.rules.map((x) => [x.label, x.effect])).toEqual([
      ['large models to the big node', 'require'],
      ['rules[1]', 'prefer'],
    ]);
  });

  test.each([
    ['a negative weight', '  hybrid: { weights: { health: -1 } }', 'strategy.hybrid.weights.health', /must be >= 0/],
    ['every weight 0', '  hybrid: { weights: { capacity: 0, health: 0, responseTime: 0, affinity: 0 } }', 'strategy.hybrid.weights', /must not all be 0/],
    ['a weight that is not a number', '  hybrid: { weights: { capacity: lots } }', 'strategy.hybrid.weights.capacity', /must be number/],
    ['a response-time scale of 0', '  hybrid: { responseTimeScaleMs: 0 }', 'strategy.hybrid.responseTimeScaleMs', /must be > 0/],
    ['a rule without effect', '  hybrid: { rules: [ { match: { model: "x*" } } ] }', 'strategy.hybrid.rules[0]', /needs an effect: `prefer` or `require`/],
    ['a rule with both effects', '  hybrid: { rules: [ { prefer: { nodes: [big] }, require: { nodes: [big] } } ] }', 'strategy.hybrid.rules[0]', /has both `prefer` and `require`/],
    ['an effect naming nothing', '  hybrid: { rules: [ { prefer: {} } ] }', 'strategy.hybrid.rules[0].prefer', /must name `nodes` or `tags`/],
    [
      'a priority that is no name',
      '  hybrid: { rules: [ { match: { priority: urgent }, require: { nodes: [big] } } ] }',
      'strategy.hybrid.rules[0].match.priority',
      /high, normal, low \(got "urgent"\)/,
    ],
    [
      'minPriority above maxPriority',
      '  hybrid: { rules: [ { match: { minPriority: high, maxPriority: 0 }, require: { nodes: [big] } } ] }',
      'strategy.hybrid.rules[0].match.minPriority',
      /must be <= match.maxPriority/,
    ],
    ['a weight on a require rule', '  hybrid: { rules: [ { require: { nodes: [big] }, weight: 2 } ] }', 'strategy.hybrid.rules[0].weight', /`prefer` rules only/],
    [
      'a model that is not a string',
      '  hybrid: { rules: [ { match: { model: 32 }, require: { nodes: [big] } } ] }',
      'strategy.hybrid.rules[0].match.model',
      /must be a string or a list of strings/,
    ],
    ['an empty model pattern', '  hybrid: { rules: [ { match: { model: ["*:32b", " "] }, require: { nodes: [big] } } ] }', 'strategy.hybrid.rules[0].match.model[1]', /non-empty/],
    ['rules that are not a list', '  hybrid: { rules: { prefer: big } }', 'strategy.hybrid.rules', /must be array/],
  ])('%s is an error naming the key and its line', (_l, line, path, message) => {
    const text = `${NODES}strategy:\n  type: predictive\n${line}\n`;
    const issues = issuesOf(() => parseConfig(text, 'c.yaml', { strategies: StrategyFactory.accepts }));
    expect(issues).toEqual([expect.objectContaining({ path, file: 'c.yaml', line: 6 })]);
    expect(issues[0].message).toMatch(message);
  });

  test('a rule naming a node or tag no configured node has is a warning: nodes may be added at run time', () => {
    const r = parseConfig(`${NODES}strategy:\n  hybrid:\n    rules:\n      - prefer: { nodes: [gpu-9], tags: [huge] }\n`, 'c.yaml');
    expect(r.warnings).toEqual([
      'c.yaml:7: strategy.hybrid.rules[0].prefer.nodes[0]: no configured node has id "gpu-9" (the rule applies once one is added)',
      'c.yaml:7: strategy.hybrid.rules[0].prefer.tags[0]: no configured node has tag "huge" (the rule applies once one has)',
    ]);
  });

  test('a misspelt effect is a warning for the key and an error for the rule', () => {
    const issues = issuesOf(() => resolveConfig({ strategy: { hybrid: { rules: [{ prefers: { nodes: ['big'] } }] } } } as Record<string, unknown>));
    expect(issues.map((i) => [i.path, i.message])).toEqual([['strategy.hybrid.rules[0]', 'needs an effect: `prefer` or `require`']]);
  });

  test('settings handed to the strategy directly are checked the same way', () => {
    let err: unknown;
    try {
      new HybridStrategy({ weights: { capacity: 0, health: 0, responseTime: 0, affinity: 0 }, rules: [{ prefer: { tags: [] } }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.issues.map((i) => i.path)).toEqual(['strategy.hybrid.weights', 'strategy.hybrid.rules[0].prefer']);
  });
});
