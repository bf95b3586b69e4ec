// The rules of the latency budget and the fallback model, as pure functions of what the scheduler
// knows (hint-rules.ts): tables of nodes, estimates and limits, and what the rules make of them.
import { Estimates } from '../../src/scheduler/estimates';
import {
  type HintFacts,
  type HintLimits,
  aheadMs,
  answerMs,
  bestLatenessMs,
  budgetCandidates,
  latenessMs,
  meetsBudget,
  shouldFallBack,
  startMs,
} from '../../src/scheduler/hint-rules';
import { MODEL, NOW, context, node } from '../strategies/fixtures';

const facts = (f: Partial<HintFacts> = {}): HintFacts => ({ model: MODEL, promptTokens: 100, stream: true, optionsSignature: '', ...f });
const limits = (l: Partial<HintLimits> = {}): HintLimits => ({ queueLeftMs: 10_000, budgetLeftMs: undefined, aheadMs: 0, ...l });

/**
 * Teaches `est` that `nodeId` streams its first byte after `firstByteMs` (hot) and holds a slot for
 * `serviceMs`, prefill and token rate included (100 prompt tokens in 100 ms, 50 tokens at 100 tok/s).
 */
function learn(est: Estimates, nodeId: string, firstByteMs: number, serviceMs: number, loadMs = 0): void {
  est.recordCompletion(
    nodeId,
    MODEL,
    { loadMs, promptTokens: 100, promptEvalMs: 100, evalTokens: 50, evalMs: 500, totalMs: serviceMs },
    { ttftMs: firstByteMs + loadMs, latencyMs: serviceMs + loadMs, hotStream: loadMs === 0 },
  );
}

describe('startMs: until a node could start the request', () => {
  test.each<[string, { inFlight: number; wait?: number; ahead: number }, number]>([
    ['a free slot: now', { inFlight: 0, ahead: 0 }, 0],
    ['a free slot, two requests ahead worth 300 ms', { inFlight: 0, ahead: 300 }, 300],
    ['full, its slot expected in 800 ms', { inFlight: 4, wait: 800, ahead: 0 }, 800],
    ['full, slot in 800 ms and 300 ms ahead', { inFlight: 4, wait: 800, ahead: 300 }, 1_100],
    ['full, wait unknown: no promise', { inFlight: 4, wait: NaN, ahead: 0 }, Infinity],
  ])('%s', (_l, s, expected) => {
    const n = node('a', { inFlight: s.inFlight });
    expect(startMs(n, facts(), limits({ aheadMs: s.ahead }), context({ waits: { a: s.wait ?? 0 } }))).toBe(expected);
  });
});

describe('answerMs: from the start until the client sees the answer begin', () => {
  test.each<[string, { learned: boolean; hot: boolean; stream: boolean; load?: number }, number]>([
    ['nothing learned of the model: never judged on priors', { learned: false, hot: true, stream: true }, 0],
    ['a hot stream: its learned first byte', { learned: true, hot: true, stream: true }, 400],
    ['a non-streamed answer: the whole of it', { learned: true, hot: true, stream: false }, 600],
    ['a cold stream: the learned load, then the first byte', { learned: true, hot: false, stream: true, load: 2_000 }, 2_400],
  ])('%s', (_l, s, expected) => {
    const est = new Estimates();
    if (s.learned) learn(est, 'a', 400, 600);
    if (s.load) learn(est, 'a', 400, 600, s.load);
    const n = node('a', { hot: s.hot ? { [MODEL]: '' } : {} });
    expect(answerMs(n, facts({ stream: s.stream, outputTokens: 50 }), context({ estimates: est }))).toBeCloseTo(expected, -1);
  });
});

describe('latenessMs and the budget', () => {
  // Node a: hot, first byte 400 ms. Busy with its slot in `wait` ms, or free.
  test.each<[string, { wait?: number; queueLeft: number; budgetLeft?: number }, { late: number; meets: boolean }]>([
    ['free, no budget, deadline ahead: in time by the whole wait left', { queueLeft: 10_000 }, { late: -10_000, meets: true }],
    ['busy 12 s, deadline in 10 s: 2 s late', { wait: 12_000, queueLeft: 10_000 }, { late: 2_000, meets: true }],
    ['free, budget 1 s: first byte at 400 ms, in time', { queueLeft: 10_000, budgetLeft: 1_000 }, { late: -600, meets: true }],
    ['free, budget 300 ms: 100 ms past it', { queueLeft: 10_000, budgetLeft: 300 }, { late: 100, meets: false }],
    ['busy 800 ms, budget 1 s: 200 ms past it', { wait: 800, queueLeft: 10_000, budgetLeft: 1_000 }, { late: 200, meets: false }],
    ['a budget already spent', { queueLeft: 10_000, budgetLeft: -50 }, { late: 450, meets: false }],
  ])('%s', (_l, s, expected) => {
    const est = new Estimates();
    learn(est, 'a', 400, 600);
    const n = node('a', { hot: { [MODEL]: '' }, inFlight: s.wait === undefined ? 0 : 4 });
    const ctx = context({ estimates: est, waits: { a: s.wait ?? 0 } });
    const l = limits({ queueLeftMs: s.queueLeft, budgetLeftMs: s.budgetLeft });
    expect(latenessMs(n, facts(), l, ctx)).toBeCloseTo(expected.late, 0);
    expect(meetsBudget(n, facts(), l, ctx)).toBe(expected.meets);
  });

  test('bestLatenessMs: the least late node; Infinity with none', () => {
    const est = new Estimates();
    learn(est, 'fast', 100, 300);
    learn(est, 'slow', 2_000, 6_000);
    const nodes = [node('slow', { hot: { [MODEL]: '' } }), node('fast', { hot: { [MODEL]: '' } })];
    const ctx = context({ estimates: est });
    // fast's first byte: its prefill (100 ms) and one token (10 ms) outlast the 100 ms seen.
    expect(bestLatenessMs(nodes, facts(), limits({ budgetLeftMs: 1_000 }), ctx)).toBeCloseTo(-890, 0);
    expect(bestLatenessMs([], facts(), limits(), ctx)).toBe(Infinity);
  });

  // fast: first byte 100 ms; slow: 2 s; budget 1 s unless said.
  test.each<[string, { nodes: string[]; budget?: number; busyFast?: number }, { offered: string; met: boolean }]>([
    ['no budget: every candidate, the array itself', { nodes: ['slow', 'fast'] }, { offered: 'slow fast', met: true }],
    ['the slow node is left out while the fast one meets it', { nodes: ['slow', 'fast'], budget: 1_000 }, { offered: 'fast', met: true }],
    ['a busy fast node whose slot frees in time still meets it', { nodes: ['slow', 'fast'], budget: 1_000, busyFast: 500 }, { offered: 'fast', met: true }],
    ['a busy fast node whose slot frees too late does not', { nodes: ['slow', 'fast'], budget: 1_000, busyFast: 5_000 }, { offered: 'slow fast', met: false }],
    ['only the slow node: it is offered, the budget unmet', { nodes: ['slow'], budget: 1_000 }, { offered: 'slow', met: false }],
    ['a budget both meet: both', { nodes: ['slow', 'fast'], budget: 5_000 }, { offered: 'slow fast', met: true }],
  ])('budgetCandidates: %s', (_l, s, expected) => {
    const est = new Estimates();
    learn(est, 'fast', 100, 300);
    learn(est, 'slow', 2_000, 6_000);
    const all = {
      slow: node('slow', { hot: { [MODEL]: '' } }),
      fast: node('fast', { hot: { [MODEL]: '' }, inFlight: s.busyFast === undefined ? 0 : 4 }),
    } as const;
    const candidates = s.nodes.map((id) => all[id as keyof typeof all]);
    const ctx = context({ estimates: est, waits: { fast: s.busyFast ?? 0 } });
    const out = budgetCandidates(candidates, facts(), limits({ budgetLeftMs: s.budget }), ctx);
    expect(out.nodes.map((n) => n.id).join(' ')).toBe(expected.offered);
    expect(out.met).toBe(expected.met);
    if (s.budget === undefined) expect(out.nodes).toBe(candidates);
  });
});

describe('shouldFallBack: switch only when the primary is late and the fallback does better', () => {
  test.each<[string, number, number, boolean]>([
    ['primary in time, fallback faster: stay', -200, -5_000, false],
    ['primary exactly on time: stay', 0, -5_000, false],
    ['primary has no routable node, fallback free now', Infinity, -10_000, true],
    ['primary has no routable node, fallback late too but routable', Infinity, 3_000, true],
    ['both without a routable node: stay', Infinity, Infinity, false],
    ['primary 2 s late, fallback in time', 2_000, -1_000, true],
    ['primary 2 s late, fallback 1 s late: less late wins', 2_000, 1_000, true],
    ['primary 2 s late, fallback 3 s late: stay', 2_000, 3_000, false],
    ['primary late, fallback equally late: stay', 2_000, 2_000, false],
  ])('%s', (_l, primary, fallback, expected) => {
    expect(shouldFallBack(primary, fallback)).toBe(expected);
  });
});

describe('aheadMs: the requests ahead, at the nodes’ combined rate', () => {
  test.each<[string, number, number[], number]>([
    ['nobody ahead', 0, [1], 0],
    ['4 ahead, one node of 2 slots at 1 s a request', 4, [2], 2_000],
    ['4 ahead, two such nodes', 4, [2, 2], 1_000],
    ['ahead, but no node to serve them', 3, [], Infinity],
  ])('%s', (_l, ahead, slots, expected) => {
    const est = new Estimates();
    const nodes = slots.map((s, i) => node(`n${i}`, { slots: s }));
    for (const n of nodes) learn(est, n.id, 100, 1_000);
    expect(aheadMs(ahead, nodes, MODEL, context({ estimates: est, now: NOW }))).toBeCloseTo(expected, 0);
  });
});
