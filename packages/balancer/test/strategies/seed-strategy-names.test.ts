// Every strategy name the five seeds use, spelled as they spell it: accepted with the same meaning,
// or refused with a message that names what to use instead. Seed 000 names no strategy (it
// shuffles servers at random).
import { parseConfig } from '../../src/config';
import { StrategyFactory, UnknownStrategyError } from '../../src/strategies';
import { issuesOf } from '../config/helpers';

type Verdict = { accepted: string } | { refused: RegExp };

const SEED_NAMES: Array<[seed: string, name: string, verdict: Verdict]> = [
  ['001', 'least_loaded', { accepted: 'least-in-flight' }],
  ['001', 'round_robin', { accepted: 'round-robin' }],
  ['001', 'model_affinity', { accepted: 'model-aware' }],
  ['001', 'latency_based', { accepted: 'latency' }],
  ['001', 'weighted', { accepted: 'weighted-round-robin' }],
  ['001', 'Tag-Based', { refused: /use `hybrid` with `prefer: \{ tags: \[...\] \}` rules/ }],
  ['002', 'Round Robin', { accepted: 'round-robin' }],
  ['002', 'Least Loaded', { accepted: 'least-in-flight' }],
  ['002', 'Capability-Based', { refused: /use `hybrid` with rules/ }],
  ['002', 'Weighted', { accepted: 'weighted-round-robin' }],
  ['002', 'Hybrid', { accepted: 'hybrid' }],
  ['003', 'round-robin', { accepted: 'round-robin' }],
  ['003', 'weighted-round-robin', { accepted: 'weighted-round-robin' }],
  ['003', 'least-in-flight', { accepted: 'least-in-flight' }],
  ['003', 'random', { accepted: 'random' }],
  ['003', 'model-aware', { accepted: 'model-aware' }],
  ['004', 'performance', { accepted: 'performance' }],
  ['004', 'round_robin', { accepted: 'round-robin' }],
  ['004', 'priority', { refused: /use `performance`/ }],
];

describe.each(SEED_NAMES)('seed %s: %j', (_seed, name, verdict) => {
  if ('accepted' in verdict) {
    it(`is accepted as ${verdict.accepted}`, () => {
      expect(StrategyFactory.resolve(name)).toBe(verdict.accepted);
      expect(StrategyFactory.create(name).name).toBe(verdict.accepted);
      expect(StrategyFactory.accepts(name)).toBe(true);
      expect(parseConfig(`strategy: { type: "${name}" }\n`, 'c.yaml', { strategies: StrategyFactory.accepts }).config.strategy.type).toBe(name);
    });
  } else {
    it('is refused by the config loader at strategy.type, naming what to use instead', () => {
      const issues = issuesOf(() => parseConfig(`nodes: []\nstrategy:\n  type: ${JSON.stringify(name)}\n`, 'c.yaml', { strategies: StrategyFactory.accepts }));
      expect(issues).toEqual([expect.objectContaining({ path: 'strategy.type', file: 'c.yaml', line: 3 })]);
      expect(issues[0].message).toMatch(verdict.refused);
      expect(issues[0].message).toMatch(/is not a strategy here/);
    });

    it('is refused by the factory (admin calls, the library) with the same reason', () => {
      expect(StrategyFactory.resolve(name)).toBeUndefined();
      expect(() => StrategyFactory.create(name)).toThrow(UnknownStrategyError);
      expect(() => StrategyFactory.create(name)).toThrow(verdict.refused);
    });
  }
});

test('a name no seed uses stays an unknown strategy, without a suggestion', () => {
  expect(StrategyFactory.accepts('fastest')).toBe(false);
  const issues = issuesOf(() => parseConfig('strategy: fastest\n', 'c.yaml', { strategies: StrategyFactory.accepts }));
  expect(issues.map((i) => i.message)).toEqual(['unknown strategy "fastest"']);
});
