// The hybrid strategy: seed 002's scoring on its own numbers, then each factor and each rule kind
// on real PoolNodes and learned Estimates.
import type { PoolNode } from '../../src/nodes/node';
import { Estimates } from '../../src/scheduler/estimates';
import { globToRegExp, HybridStrategy, hybridScore, responseScore, type HybridConfig, type HybridRule } from '../../src/strategies';
import { context, MODEL, node, observe, observeChunk, request, type NodeSetup } from './fixtures';

const SEED_WEIGHTS = { capacity: 0.4, health: 0.3, responseTime: 0.2, affinity: 0.1 };

/** A node with tags (the fixture builds untagged ones). */
function tagged(id: string, tags: string[], s: NodeSetup = {}): PoolNode {
  const n = node(id, s);
  n.spec.tags = tags;
  return n;
}

describe('seed 002 scoring, on its own numbers', () => {
  // The seed's example load distribution: ollama01 5 of 10 requests, ollama02 8 of 15; its example
  // server state answers in 2.5 s on average, and an unknown average counts as 5 s; affinity is 1
  // for complexity high on ollama02 and low on ollama01, else 0.5.
  const ollama01 = (affinity: number, healthy = true) => ({ capacity: 5 / 10, health: healthy ? 1 : 0, responseTime: responseScore(2_500, 10_000), affinity });
  const ollama02 = (affinity: number) => ({ capacity: 7 / 15, health: 1, responseTime: responseScore(5_000, 10_000), affinity });

  it.each([
    ['ollama01, no complexity', ollama01(0.5), 0.71],
    ['ollama02, no complexity', ollama02(0.5), 0.67],
    ['ollama01, complexity low', ollama01(1), 0.76],
    ['ollama02, complexity high', ollama02(1), 0.72],
    ['ollama01 unhealthy', ollama01(0.5, false), 0.41],
  ])('%s scores %s', (_l, factors, expected) => {
    expect(hybridScore(factors, SEED_WEIGHTS)).toBeCloseTo(expected, 10);
  });

  it('normalises response times as the seed does: 1 / (1 + t / 10 s)', () => {
    expect(responseScore(0, 10_000)).toBe(1);
    expect(responseScore(2_500, 10_000)).toBeCloseTo(0.8, 12);
    expect(responseScore(5_000, 10_000)).toBeCloseTo(2 / 3, 12);
    expect(responseScore(10_000, 10_000)).toBe(0.5);
  });

  // The same situation on real nodes: slots and in-flight as in the seed, service times learned at
  // 2.5 s on ollama01 and 5 s (the seed's default) on ollama02, the models hot on both.
  const rules: HybridRule[] = [
    { name: 'large models to ollama02', match: { model: '*32b*' }, require: { nodes: ['ollama02'] } },
    { name: 'high priority to the fastest', match: { priority: 'high' }, require: { nodes: ['ollama02'] } },
    { match: { complexity: 'high' }, prefer: { nodes: ['ollama02'] } },
    { match: { complexity: 'low' }, prefer: { nodes: ['ollama01'] } },
  ];
  const setup = () => {
    const est = new Estimates();
    observe(est, 'ollama01', 2_500);
    observe(est, 'ollama02', 5_000);
    for (const [id, ms] of [
      ['ollama01', 2_500],
      ['ollama02', 5_000],
    ] as const)
      observe(est, id, ms, 1, 'qwen2.5-coder:32b');
    const hot = { [MODEL]: '', 'qwen2.5-coder:32b': '' };
    const nodes = [node('ollama01', { slots: 10, inFlight: 5, hot }), node('ollama02', { slots: 15, inFlight: 8, hot })];
    return { nodes, ctx: context({ estimates: est }), s: new HybridStrategy({ rules }) };
  };

  it.each([
    ['no hint: ollama01 (0.71 against 0.67)', request(), 'ollama01', [0.71, 0.67]],
    ['complexity high: ollama02 (0.72 against 0.71)', request({ complexity: 'high' }), 'ollama02', [0.72, 0.71]],
    ['complexity low: ollama01 (0.76 against 0.67)', request({ complexity: 'low' }), 'ollama01', [0.76, 0.67]],
    ['priority low: any server, by score', request({ priority: -10 }), 'ollama01', [0.71, 0.67]],
  ])('%s', (_l, req, expected, scores) => {
    const { nodes, ctx, s } = setup();
    expect(s.select(nodes, req, ctx)?.id).toBe(expected);
    const got = s.scoreAll(nodes, req, ctx).map((x) => x.score);
    expect(got).toHaveLength(scores.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(scores[i], 10));
  });

  it.each([
    ['a 32b model', request({ model: 'qwen2.5-coder:32b' })],
    ['priority high', request({ priority: 10 })],
  ])('%s goes to ollama02 although ollama01 scores higher', (_l, req) => {
    const { nodes, ctx, s } = setup();
    expect(s.select(nodes, req, ctx)?.id).toBe('ollama02');
    const all = s.scoreAll(nodes, req, ctx);
    expect(all.map((x) => [x.node.id, x.allowed])).toEqual([
      ['ollama02', true],
      ['ollama01', false],
    ]);
  });

  it('a required server that is not a candidate (down, or lacking the model) is skipped, as the seed falls back', () => {
    const { nodes, ctx, s } = setup();
    expect(s.select([nodes[0]], request({ priority: 10 }), ctx)?.id).toBe('ollama01');
  });

  it('a required server that is busy is waited for, not bypassed', () => {
    const { ctx, s } = setup();
    const nodes = [node('ollama01', { slots: 10 }), node('ollama02', { slots: 15, inFlight: 15 })];
    expect(s.select(nodes, request({ priority: 10 }), ctx)).toBeNull();
  });
});

describe('the factors, from what the balancer knows', () => {
  const only = (factor: keyof HybridConfig['weights']) => new HybridStrategy({ weights: { capacity: 0, health: 0, responseTime: 0, affinity: 0, [factor]: 1 } });

  it('weights given in part keep the others at their defaults, then all are normalised', () => {
    const w = new HybridStrategy({ weights: { affinity: 0 } }).settings.weights;
    expect(w.affinity).toBe(0);
    expect(w.capacity).toBeCloseTo(0.4 / 0.9, 12);
    expect(w.capacity + w.health + w.responseTime).toBeCloseTo(1, 12);
  });

  it('capacity: the share of free slots, under the per-model cap', () => {
    const nodes = [node('a', { slots: 4, inFlight: 2 }), node('b', { slots: 8, inFlight: 2 }), node('c', { slots: 8, perModel: { [MODEL]: 2 }, inFlight: 1 })];
    const all = only('capacity').scoreAll(nodes, request(), context());
    // a and c tie on capacity; c is less loaded as a whole.
    expect(all.map((x) => [x.node.id, x.capacity])).toEqual([
      ['b', 0.75],
      ['c', 0.5],
      ['a', 0.5],
    ]);
  });

  it('health: success rate, halved while DEGRADED and while the breaker is half-open', () => {
    const est = new Estimates();
    observe(est, 'a', 1000);
    est.recordFailure('a');
    const degraded = node('b');
    degraded.health = 'DEGRADED';
    const trial = node('c');
    for (let i = 0; i < 5; i++) trial.breaker.onFailure(0);
    expect(trial.breaker.canAttempt(10_000)).toBe(true);
    const scores = Object.fromEntries(
      only('health')
        .scoreAll([node('a'), degraded, trial, node('d')], request(), context({ estimates: est }))
        .map((x) => [x.node.id, x.health]),
    );
    expect(scores.a).toBeCloseTo(0.8, 10);
    expect(scores).toEqual({ a: scores.a, b: 0.5, c: 0.5, d: 1 });
  });

  it('response time: the learned service time of the model there, plus its learned load when cold', () => {
    const est = new Estimates();
    observe(est, 'fast', 1_000);
    observe(est, 'slow', 4_000);
    observeChunk(est, 'cold', 3_000, 1000);
    const nodes = [node('slow', { hot: { [MODEL]: '' } }), node('fast', { hot: { [MODEL]: '' } }), node('cold')];
    const all = only('responseTime').scoreAll(nodes, request(), context({ estimates: est }));
    expect(all.map((x) => [x.node.id, x.responseMs])).toEqual([
      ['fast', 1_000],
      ['slow', 4_000],
      ['cold', 4_000 + 3_000],
    ]);
    expect(only('responseTime').select(nodes, request(), context({ estimates: est }))?.id).toBe('fast');
  });

  it('ties go to lower load, then lower priority value, then id', () => {
    const s = only('affinity');
    expect(s.select([node('b'), node('a', { inFlight: 1 })], request(), context())?.id).toBe('b');
    expect(s.select([node('b', { priority: 0 }), node('a', { priority: 1 })], request(), context())?.id).toBe('b');
    expect(s.select([node('b'), node('a')], request(), context())?.id).toBe('a');
  });

  it('a free node nearly always outscores a full one: the full node is waited for only when it wins', () => {
    const s = new HybridStrategy();
    expect(s.select([node('a', { slots: 1, inFlight: 1 }), node('b')], request(), context())?.id).toBe('b');
    const all = new HybridStrategy({ weights: { capacity: 0, health: 0, responseTime: 1, affinity: 0 } });
    const est = new Estimates();
    observe(est, 'fast', 500);
    observe(est, 'slow', 20_000);
    expect(all.select([node('fast', { slots: 1, inFlight: 1 }), node('slow')], request(), context({ estimates: est }))).toBeNull();
  });
});

describe('rules', () => {
  const pick = (rules: HybridRule[], nodes: PoolNode[], req = request()) => new HybridStrategy({ rules }).select(nodes, req, context())?.id;
  // Without a rule, b wins (a has a request in flight, b and c tie and b comes first).
  const pool = () => [tagged('a', ['small'], { inFlight: 1 }), tagged('b', ['big', 'gpu']), tagged('c', ['big'])];

  it.each([
    ['model glob matches', { model: '*:32b' }, 'qwen2.5-coder:32b', true],
    ['model glob does not match', { model: '*:32b' }, 'llama3.2:3b', false],
    ['model list, one matches', { model: ['mixtral:*', 'qwen2.5-coder:*'] }, 'qwen2.5-coder:32b', true],
    ['plain name means name:latest', { model: 'llama3.2' }, 'llama3.2:latest', true],
    ['plain name is not a prefix', { model: 'llama3.2' }, 'llama3.2:3b', false],
  ] as const)('%s', (_l, match, model, expected) => {
    const rules: HybridRule[] = [{ match: { ...match, model: [...[match.model].flat()] }, require: { tags: ['small'] } }];
    expect(pick(rules, pool(), request({ model }))).toBe(expected ? 'a' : 'b');
  });

  it.each([
    ['priority: high matches 10', { priority: 'high' }, 10, true],
    ['priority: high does not match 0', { priority: 'high' }, 0, false],
    ['priority: a number', { priority: 3 }, 3, true],
    ['minPriority: at least', { minPriority: 5 }, 7, true],
    ['minPriority: below', { minPriority: 5 }, 4, false],
    ['maxPriority: low and below', { maxPriority: 'low' }, -20, true],
    ['maxPriority: above', { maxPriority: 'low' }, 0, false],
  ] as const)('%s', (_l, match, priority, expected) => {
    expect(pick([{ match, require: { tags: ['small'] } }], pool(), request({ priority }))).toBe(expected ? 'a' : 'b');
  });

  it.each([
    ['requested tags include the rule’s', ['gpu', 'x'], true],
    ['requested tags lack one', ['x'], false],
  ])('tags: %s', (_l, requiredTags, expected) => {
    expect(pick([{ match: { tags: ['gpu'] }, require: { nodes: ['c'] } }], pool(), request({ requiredTags }))).toBe(expected ? 'c' : 'b');
  });

  it.each([
    ['one of the listed', 'medium', true],
    ['not listed', 'low', false],
    ['no hint', undefined, false],
  ])('complexity: %s', (_l, complexity, expected) => {
    expect(pick([{ match: { complexity: ['High', 'medium'] }, require: { nodes: ['c'] } }], pool(), request({ complexity }))).toBe(expected ? 'c' : 'b');
  });

  it('a rule without match applies to every request', () => {
    expect(pick([{ require: { nodes: ['c'] } }], pool())).toBe('c');
  });

  it('require by tag keeps every node with any of the tags; later requires narrow further while they leave a candidate', () => {
    expect(pick([{ require: { tags: ['big'] } }], [tagged('a', ['small']), tagged('c', ['big'], { inFlight: 1 }), tagged('b', ['big'], { inFlight: 2 })])).toBe('c');
    const two: HybridRule[] = [{ require: { tags: ['big'] } }, { require: { tags: ['gpu'] } }];
    expect(pick(two, pool())).toBe('b');
    const impossible: HybridRule[] = [{ require: { tags: ['big'] } }, { require: { tags: ['small'] } }];
    expect(pick(impossible, [tagged('a', ['small']), tagged('c', ['big']), tagged('b', ['big'], { inFlight: 1 })])).toBe('c');
  });

  it('prefer raises affinity by the rules’ weights: 0.5 for none, 1 for all', () => {
    const s = new HybridStrategy({
      rules: [
        { prefer: { tags: ['big'] }, weight: 3 },
        { prefer: { nodes: ['a'] }, weight: 1 },
      ],
    });
    const all = Object.fromEntries(s.scoreAll(pool(), request(), context()).map((x) => [x.node.id, x.affinity]));
    expect(all).toEqual({ a: 0.625, b: 0.875, c: 0.875 });
    expect(s.select(pool(), request(), context())?.id).toBe('b');
  });

  it('prefer only nudges: the seed’s 10 % does not outweigh a much emptier node', () => {
    const rules: HybridRule[] = [{ prefer: { nodes: ['b'] } }];
    expect(pick(rules, [tagged('a', [], { slots: 4 }), tagged('b', [], { slots: 4, inFlight: 3 })])).toBe('a');
    expect(pick(rules, [tagged('a', [], { slots: 4, inFlight: 1 }), tagged('b', [], { slots: 4, inFlight: 1 })])).toBe('b');
  });

  it('compiles globs once into anchored expressions, with the other characters literal', () => {
    expect(globToRegExp('llama3.?:*').test('llama3.2:3b')).toBe(true);
    expect(globToRegExp('llama3.2').test('llama3x2:latest')).toBe(false);
    expect(globToRegExp('Qwen*').test('qwen3:latest')).toBe(true);
    expect(globToRegExp('a+b(c)*').test('a+b(c):x')).toBe(true);
  });
});
