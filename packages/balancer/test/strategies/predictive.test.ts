// Predictive with the default priors: load 5 000 ms, prefill 500 tok/s, service 5 000 ms. A 100-token
// prompt costs 200 ms of prefill, so a free cold node predicts 5 200 ms and a free hot one 200 ms.
import { PredictiveStrategy } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { Estimates } from '../../src/scheduler/estimates';
import type { RoutingRequest } from '../../src/strategies/strategy';
import { context, MODEL, NOW, node, observeChunk, request } from './fixtures';

const HOT = { [MODEL]: '' };
const coldFree = (id = 'cold') => node(id);
const hotFree = (id = 'hot', inFlight = 0) => node(id, { hot: HOT, inFlight });
const hotFull = (id = 'busy', sig = '') => node(id, { slots: 2, inFlight: 2, hot: { [MODEL]: sig } });
const OTHER = 'mistral:latest';
/** A free node holding only OTHER, at its limit of one model, with `uses` recent bindings per model. */
const fullOf = (id: string, uses: Record<string, number>, busyModels: Record<string, number> = {}) => node(id, { maxLoaded: 1, hot: { [OTHER]: '' }, uses, busyModels });

interface Row {
  name: string;
  nodes: () => PoolNode[];
  waits?: Record<string, number>;
  waiting?: Record<string, number>;
  teach?: (est: Estimates) => void;
  req?: Partial<RoutingRequest>;
  expected: string | null;
}

const table: Row[] = [
  { name: 'free hot beats free cold', nodes: () => [coldFree(), hotFree()], expected: 'hot' },
  { name: 'hot busy briefly beats free cold: wait', nodes: () => [coldFree(), hotFull()], waits: { busy: 500 }, expected: null },
  { name: 'free cold beats hot busy for long', nodes: () => [coldFree(), hotFull()], waits: { busy: 20_000 }, expected: 'cold' },
  { name: 'wait ≥ the cold TTFT: take the free node', nodes: () => [coldFree(), hotFull()], waits: { busy: 5_000 }, expected: 'cold' },
  { name: 'within the margin: take the free node', nodes: () => [coldFree(), hotFull()], waits: { busy: 4_600 }, expected: 'cold' },
  { name: 'just outside the margin: wait', nodes: () => [coldFree(), hotFull()], waits: { busy: 4_400 }, expected: null },
  {
    name: 'hot for another num_ctx is cold',
    nodes: () => [coldFree(), hotFull('busy', 'num_ctx=8192')],
    waits: { busy: 500 },
    expected: 'cold',
  },
  {
    name: 'hot for this num_ctx: wait',
    nodes: () => [coldFree(), hotFull('busy', 'num_ctx=8192')],
    waits: { busy: 500 },
    req: { optionsSignature: 'num_ctx=8192' },
    expected: null,
  },
  {
    name: 'this num_ctx, default loaded: the free node',
    nodes: () => [coldFree(), hotFull('busy', '')],
    waits: { busy: 500 },
    req: { optionsSignature: 'num_ctx=8192' },
    expected: 'cold',
  },
  {
    name: 'expired is cold',
    nodes: () => [coldFree(), node('busy', { slots: 1, inFlight: 1, expired: [MODEL] })],
    waits: { busy: 500 },
    expected: 'cold',
  },
  {
    name: 'learned fast load: the free cold node',
    nodes: () => [coldFree(), hotFull()],
    waits: { busy: 1_000 },
    teach: (est) => observeChunk(est, 'cold', 300, 500),
    expected: 'cold',
  },
  {
    name: 'load learned on another node counts for the model',
    nodes: () => [coldFree(), hotFull()],
    waits: { busy: 1_000 },
    teach: (est) => observeChunk(est, 'elsewhere', 300, 500),
    expected: 'cold',
  },
  {
    name: 'learned slow load: keeps waiting longer',
    nodes: () => [coldFree(), hotFull()],
    waits: { busy: 8_000 },
    teach: (est) => observeChunk(est, 'cold', 30_000, 500),
    expected: null,
  },
  {
    name: 'learned prefill speed: the faster hot node for a long prompt',
    nodes: () => [hotFree('a'), hotFree('b', 3)],
    teach: (est) => {
      observeChunk(est, 'a', 0, 100);
      observeChunk(est, 'b', 0, 2_000);
    },
    req: { promptTokens: 4_000 },
    expected: 'b',
  },
  { name: 'equal hot nodes: less loaded', nodes: () => [hotFree('a', 2), hotFree('b', 1)], expected: 'b' },
  {
    name: 'equal hot nodes, equal load: lower priority value',
    nodes: () => [node('a', { hot: HOT, priority: 1 }), node('b', { hot: HOT, priority: 0 })],
    expected: 'b',
  },
  { name: 'free cold vs busy cold: free', nodes: () => [coldFree(), node('busy', { slots: 1, inFlight: 1 })], waits: { busy: 0 }, expected: 'cold' },
  { name: 'all full: null', nodes: () => [hotFull('a'), hotFull('b')], waits: { a: 10_000, b: 100 }, expected: null },
  { name: 'no candidates: null', nodes: () => [], expected: null },
  // Budget: busy 3 000 → TTFT 3 200 (pessimistic 6 200); free cold 5 200.
  {
    name: 'budget the free node meets, the wait only optimistically',
    nodes: () => [coldFree(), hotFull()],
    waits: { busy: 3_000 },
    req: { latencyBudgetMs: 6_000 },
    expected: 'cold',
  },
  { name: 'budget roomy enough to wait', nodes: () => [coldFree(), hotFull()], waits: { busy: 3_000 }, req: { latencyBudgetMs: 7_000 }, expected: null },
  { name: 'budget the free node misses too: wait', nodes: () => [coldFree(), hotFull()], waits: { busy: 3_000 }, req: { latencyBudgetMs: 4_000 }, expected: null },
  { name: 'no budget: wait', nodes: () => [coldFree(), hotFull()], waits: { busy: 3_000 }, expected: null },
  // Eviction (ollama-api.md §8): a full node evicts to load. Its cost is the victim's reload time
  // (prior 5 000) × the victim's share of the node's recent bindings.
  { name: 'cold everywhere: the node with room beats a full one whose victim is in use', nodes: () => [fullOf('a-full', { [OTHER]: 4 }), coldFree('b-room')], expected: 'b-room' },
  { name: 'cold everywhere: a victim nobody used lately costs nothing (ties by id)', nodes: () => [fullOf('a-full', {}), coldFree('b-room')], expected: 'a-full' },
  {
    name: 'a busy victim drains before the load: the node with room',
    nodes: () => [fullOf('a-full', {}, { [OTHER]: 1 }), coldFree('b-room')],
    expected: 'b-room',
  },
  {
    name: 'wait for a hot node rather than evict a model in use (cold 5 200 + 5 000 > wait 6 200)',
    nodes: () => [fullOf('cold', { [OTHER]: 4 }), hotFull()],
    waits: { busy: 6_000 },
    expected: null,
  },
  { name: '... but not once the wait outgrows the eviction too', nodes: () => [fullOf('cold', { [OTHER]: 4 }), hotFull()], waits: { busy: 11_000 }, expected: 'cold' },
  { name: 'a node still busy with our loads loads after them', nodes: () => [node('a', { loadingUntil: NOW + 3_000 }), coldFree('b')], expected: 'b' },
  {
    name: 'hot but still loading: its remaining load, not a new one elsewhere',
    nodes: () => [node('a', { hot: HOT, readyAt: { [MODEL]: NOW + 4_000 } }), coldFree('b')],
    expected: 'a',
  },
  {
    name: 'hot but still loading vs hot and ready: the ready one',
    nodes: () => [node('a', { hot: HOT, readyAt: { [MODEL]: NOW + 4_000 } }), hotFree('b', 3)],
    expected: 'b',
  },
  // The load's cost to the queue: waiting × (load queue + drain + load) ÷ the node's slots (4 here).
  // A free node holding OTHER, with 4 requests queued for OTHER: its load costs them 4 × 5 000 / 4.
  {
    name: 'a load the queue behind pays for: wait for the hot node (cold 5 200 + 5 000 > wait 6 200)',
    nodes: () => [node('cold', { hot: { [OTHER]: '' } }), hotFull()],
    waits: { busy: 6_000 },
    waiting: { cold: 4 },
    expected: null,
  },
  {
    name: '... the same load with nobody queued for that node: load',
    nodes: () => [node('cold', { hot: { [OTHER]: '' } }), hotFull()],
    waits: { busy: 6_000 },
    waiting: {},
    expected: 'cold',
  },
  {
    name: '... and once the wait outgrows the load and its cost to the queue: load',
    nodes: () => [node('cold', { hot: { [OTHER]: '' } }), hotFull()],
    waits: { busy: 12_000 },
    waiting: { cold: 4 },
    expected: 'cold',
  },
  { name: 'cold everywhere: the node nobody is queued for', nodes: () => [coldFree('a'), coldFree('b')], waiting: { a: 2 }, expected: 'b' },
  { name: 'hot: nobody else pays, whoever waits', nodes: () => [coldFree('a'), hotFree('b')], waiting: { b: 10 }, expected: 'b' },
];

describe('predictive', () => {
  it.each(table)('$name', ({ nodes, waits, waiting, teach, req, expected }) => {
    const est = new Estimates();
    teach?.(est);
    const pick = new PredictiveStrategy().select(nodes(), request(req), context({ estimates: est, waits, waiting }));
    expect(pick?.id ?? null).toBe(expected);
  });

  it('explains its prediction term by term', () => {
    const s = new PredictiveStrategy();
    const [first, second] = s.estimateAll([coldFree(), hotFull()], request(), context({ waits: { busy: 500 } }));
    expect(first).toMatchObject({ free: false, hot: true, slotWaitMs: 500, queuedAheadMs: 0, loadMs: 0, prefillMs: 200, ttftMs: 700 });
    expect(first.node.id).toBe('busy');
    expect(second).toMatchObject({ free: true, hot: false, slotWaitMs: 0, loadMs: 5_000, prefillMs: 200, ttftMs: 5_200 });
  });

  it('names the models a cold load evicts, and what that costs, term by term', () => {
    const [only] = new PredictiveStrategy().estimateAll([fullOf('a', { [OTHER]: 1, [MODEL]: 1 }, { [OTHER]: 1 })], request(), context());
    expect(only).toMatchObject({ hot: false, evicts: [OTHER], drainMs: 5_000, loadMs: 5_000, ttftMs: 10_200 });
    expect(only.evictionMs).toBeCloseTo(5_000 * only.node.residency.recentShare(OTHER));
    expect(only.costMs).toBeCloseTo(only.ttftMs + only.evictionMs);
  });

  it('does not pile a whole queue onto one hot node in a pass', () => {
    const s = new PredictiveStrategy();
    // One slot that frees in 500 ms; each later waiter needs one more service time (5 000 ms).
    const nodes = [coldFree(), node('busy', { slots: 1, inFlight: 1, hot: HOT })];
    const ctx = context({ waits: { busy: 500 } });
    const picks = [request(), request(), request()].map((r) => s.select(nodes, r, ctx)?.id ?? null);
    expect(picks).toEqual([null, 'cold', 'cold']);
    // A new pass (new ctx) starts counting afresh.
    expect(s.select(nodes, request(), context({ waits: { busy: 500 } }))).toBeNull();
  });

  it('spreads waiters over a hot node’s slots', () => {
    const s = new PredictiveStrategy();
    // Four slots: each waiter ahead adds 5 000 / 4 = 1 250 ms.
    const nodes = [coldFree(), node('busy', { slots: 4, inFlight: 4, hot: HOT })];
    const ctx = context({ waits: { busy: 500 } });
    const picks = Array.from({ length: 5 }, () => s.select(nodes, request(), ctx)?.id ?? null);
    // Waiter k predicts 700 + 1 250·k against 5 200 less the 520 margin: k ≤ 3 wait, k = 4 (5 700) binds.
    expect(picks).toEqual([null, null, null, null, 'cold']);
  });

  it('gives up waiting once the wait has cost what the free node would have', () => {
    const s = new PredictiveStrategy();
    const nodes = () => [coldFree(), hotFull()];
    const patient = request();
    expect(s.select(nodes(), patient, context({ waits: { busy: 500 } }))).toBeNull();
    // 4 s later the busy node's requests are overdue; its estimate still says "soon".
    expect(s.select(nodes(), patient, context({ now: NOW + 4_000, waits: { busy: 250 } }))).toBeNull();
    // Past the 5 200 ms it turned down: take the free node.
    expect(s.select(nodes(), patient, context({ now: NOW + 5_300, waits: { busy: 250 } }))?.id).toBe('cold');
    // A request that has not waited still waits.
    expect(s.select(nodes(), request(), context({ now: NOW + 5_300, waits: { busy: 250 } }))).toBeNull();
  });

  it('on current estimates, waits on past the promise for a slot that is really about to free', () => {
    const s = new PredictiveStrategy();
    const nodes = () => [coldFree(), hotFull()];
    const r = request();
    // Busy 4 000 → 4 200 + 520 margin < 5 200: wait; the slot is expected at NOW + 4 000.
    expect(s.select(nodes(), r, context({ waits: { busy: 4_000 } }))).toBeNull();
    // Past the 5 200 ms promise, the slot is 100 ms away and 1 300 ms late: 300 + 1 300 + 520 < 5 200.
    expect(s.select(nodes(), r, context({ now: NOW + 5_300, waits: { busy: 100 } }))).toBeNull();
    // The estimate keeps slipping: 5 000 ms late, 300 + 5 000 + 520 ≥ 5 200: give up.
    expect(s.select(nodes(), r, context({ now: NOW + 9_000, waits: { busy: 100 } }))?.id).toBe('cold');
  });

  it('counts a cold load’s cost to the queue term by term', () => {
    const [only] = new PredictiveStrategy().estimateAll([node('a', { hot: { [OTHER]: '' }, loadingUntil: NOW + 1_000 })], request(), context({ waiting: { a: 3 } }));
    expect(only).toMatchObject({ hot: false, loadQueueMs: 1_000, loadMs: 5_000, drainMs: 0 });
    expect(only.externalityMs).toBeCloseTo((3 * 6_000) / 4);
    expect(only.costMs).toBeCloseTo(only.ttftMs + only.evictionMs + only.externalityMs);
    const weighted = new PredictiveStrategy({ externalityWeight: 0.5 }).estimateAll(
      [node('a', { hot: { [OTHER]: '' }, loadingUntil: NOW + 1_000 })],
      request(),
      context({ waiting: { a: 3 } }),
    );
    expect(weighted[0].externalityMs).toBeCloseTo((0.5 * 3 * 6_000) / 4);
  });

  it('counts the time already waited against the budget', () => {
    const s = new PredictiveStrategy();
    const nodes = () => [coldFree(), hotFull()];
    const r = request({ latencyBudgetMs: 8_000 });
    // 3 200 + 3 000 = 6 200 ≤ 8 000: wait.
    expect(s.select(nodes(), r, context({ waits: { busy: 3_000 } }))).toBeNull();
    // 2 s later, 6 000 ms remain; the free node (5 200) still fits, the wait (6 200) no longer does.
    expect(s.select(nodes(), r, context({ now: NOW + 2_000, waits: { busy: 3_000 } }))?.id).toBe('cold');
  });

  it('counts the budget from the request’s arrival when it says when that was, as the scheduler’s filter does', () => {
    const s = new PredictiveStrategy();
    // Arrived 2 s before its first offer: 6 000 ms remain at once, so the wait (6 200) does not fit.
    const r = request({ latencyBudgetMs: 8_000, arrivedAt: NOW - 2_000 });
    expect(s.select([coldFree(), hotFull()], r, context({ waits: { busy: 3_000 } }))?.id).toBe('cold');
  });

  it('prefers the hot node once its slot frees', () => {
    const s = new PredictiveStrategy();
    const r = request();
    expect(s.select([coldFree(), hotFull()], r, context({ waits: { busy: 500 } }))).toBeNull();
    const freed = node('busy', { slots: 2, inFlight: 1, hot: HOT });
    expect(s.select([coldFree(), freed], r, context({ now: NOW + 500 }))?.id).toBe('busy');
  });

  it('treats an unknown wait on a full node as never', () => {
    const s = new PredictiveStrategy();
    const ctx = { ...context(), expectedSlotWaitMs: (n: PoolNode) => (n.id === 'busy' ? NaN : 0) };
    expect(s.select([coldFree(), hotFull()], request(), ctx)?.id).toBe('cold');
  });
});
