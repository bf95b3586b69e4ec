import { PoolNode } from '../../src/nodes/node';
import { DEFAULT_ESTIMATES, Estimates, type FinalChunkStats } from '../../src/scheduler/estimates';
import { SlotTable, expectedSlotWaitMs } from '../../src/scheduler/slot-table';
import { makeNode } from '../helpers';

describe('SlotTable', () => {
  test('acquire counts the slot on the node, overall and per normalised model', () => {
    const n = makeNode('a');
    const t = new SlotTable();
    t.acquire(n, 1, 'Llama3.2', 0);
    t.acquire(n, 2, 'llama3.2:latest', 0);
    t.acquire(n, 3, 'qwen:7b', 0);
    expect(n.inFlight).toBe(3);
    expect(Object.fromEntries(n.inFlightByModel)).toEqual({ 'llama3.2:latest': 2, 'qwen:7b': 1 });
    expect(t.inFlightOn('a')).toBe(3);
    expect(t.total()).toBe(3);
  });

  test('acquire is idempotent per (node, request)', () => {
    const n = makeNode('a');
    const t = new SlotTable();
    t.acquire(n, 1, 'm', 0);
    t.acquire(n, 1, 'm', 5);
    expect(n.inFlight).toBe(1);
    expect(n.inFlightByModel.get('m:latest')).toBe(1);
    expect(t.startTimes('a')).toEqual([0]); // the first start time is kept
  });

  test('release frees exactly once and forgets the model at 0', () => {
    const n = makeNode('a');
    const t = new SlotTable();
    t.acquire(n, 1, 'm', 0);
    t.acquire(n, 2, 'm', 0);
    expect(t.release(n, 1, 0)).toBe(true);
    expect(t.release(n, 1, 0)).toBe(false);
    expect(n.inFlight).toBe(1);
    expect(n.inFlightByModel.get('m:latest')).toBe(1);
    expect(t.release(n, 2, 0)).toBe(true);
    expect(n.inFlight).toBe(0);
    expect(n.inFlightByModel.has('m:latest')).toBe(false);
    expect(t.total()).toBe(0);
  });

  test.each<[string, (t: SlotTable, a: PoolNode, b: PoolNode) => boolean]>([
    ['a request never acquired', (t, a) => t.release(a, 42, 0)],
    ['a node never seen', (t, _a, b) => t.release(b, 1, 0)],
  ])('release of %s is false and changes nothing', (_name, op) => {
    const a = makeNode('a');
    const b = makeNode('b');
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0);
    expect(op(t, a, b)).toBe(false);
    expect(a.inFlight).toBe(1);
    expect(b.inFlight).toBe(0);
  });

  test('the same request id on two nodes is two slots', () => {
    const a = makeNode('a');
    const b = makeNode('b');
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0);
    t.acquire(b, 1, 'm', 0);
    t.release(a, 1, 0);
    expect([a.inFlight, b.inFlight]).toEqual([0, 1]);
  });

  test('startTimes filters by normalised model', () => {
    const a = makeNode('a');
    const t = new SlotTable();
    t.acquire(a, 1, 'x', 10);
    t.acquire(a, 2, 'y:1b', 20);
    t.acquire(a, 3, 'X:latest', 30);
    expect(t.startTimes('a').sort()).toEqual([10, 20, 30]);
    expect(t.startTimes('a', 'x').sort()).toEqual([10, 30]);
    expect(t.startTimes('a', 'Y:1B')).toEqual([20]);
    expect(t.startTimes('nope')).toEqual([]);
  });

  test('dropNode keeps a table that still holds requests', () => {
    const a = makeNode('a');
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0);
    t.dropNode('a');
    expect(t.inFlightOn('a')).toBe(1);
    expect(t.release(a, 1, 0)).toBe(true);
    t.dropNode('a');
    expect(t.inFlightOn('a')).toBe(0);
  });
});

describe('expectedSlotWaitMs', () => {
  // Priors: service 5 000 ms, prefill 500 tok/s, 30 tok/s. Tests that need other numbers teach them.
  const SERVICE = DEFAULT_ESTIMATES.serviceMs;
  const est = () => new Estimates();
  /** Estimates that have seen prefill 1 000 tok/s and 100 tok/s on node a (100 tokens → 100 ms + 1 ms a token). */
  const taught = (outputs: number[] = []) => {
    const e = new Estimates();
    const stats = (evalTokens: number): FinalChunkStats => ({ loadMs: 0, promptTokens: 100, promptEvalMs: 100, evalTokens, evalMs: evalTokens * 10, totalMs: 0 });
    for (const o of outputs.length > 0 ? outputs : [100]) e.recordCompletion('a', 'm:latest', stats(o), { ttftMs: 100, latencyMs: 100 + o * 10 });
    return e;
  };

  test('0 when a slot is free', () => {
    const a = makeNode('a', { slots: 2 });
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0);
    expect(expectedSlotWaitMs(a, 'm', t, est(), 500)).toBe(0);
  });

  test.each<[string, number[], number, number]>([
    ['soonest expected finish among in-flight', [0, 400], 500, 4_500],
    ['a request just started waits the full service time', [1_000], 1_000, SERVICE],
    ['no output cap, no outputs seen: an overdue request ends within 5% of the service time', [0], 10_000, 0.05 * SERVICE],
  ])('full node, priors only: %s', (_name, starts, now, expected) => {
    const a = makeNode('a', { slots: starts.length });
    const t = new SlotTable();
    starts.forEach((s, i) => t.acquire(a, i + 1, 'm', s));
    expect(expectedSlotWaitMs(a, 'm', t, est(), now)).toBe(expected);
  });

  // Node a with prefill 1 000 tok/s and 10 ms a token: 100 prompt tokens are 100 ms.
  test.each<[string, { promptTokens: number; outputTokens?: number }[], number, number]>([
    ['its own output cap: prefill + cap × token time − elapsed', [{ promptTokens: 100, outputTokens: 300 }], 1_000, 100 + 3_000 - 1_000],
    ['a long answer is not nearly done at the mean', [{ promptTokens: 100, outputTokens: 320 }], 2_000, 1_300],
    [
      'the short one of two frees the slot',
      [
        { promptTokens: 100, outputTokens: 320 },
        { promptTokens: 100, outputTokens: 16 },
      ],
      0,
      260,
    ],
    ['past its own length (slow node): within 5% of it', [{ promptTokens: 100, outputTokens: 100 }], 5_000, 0.05 * 1_100],
  ])('full node, learned rates: %s', (_name, work, now, expected) => {
    const a = makeNode('a', { slots: work.length });
    const t = new SlotTable();
    work.forEach((w, i) => t.acquire(a, i + 1, 'm', 0, w));
    expect(expectedSlotWaitMs(a, 'm', t, taught(), now)).toBeCloseTo(expected, 6);
  });

  test.each<[string, number, number]>([
    // Recent outputs 20, 40, 300 tokens; rates as above. Done tokens = (elapsed − 100 ms prefill) / 10 ms.
    ['just started: the mean output of the recent ones', 0, 100 + ((20 + 40 + 300) / 3) * 10],
    ['past the short ones: only the long ones it can still be', 600, ((300 - 50) / 1) * 10],
    ['longer than all seen: ends within 5% of the longest', 4_000, 0.05 * 300 * 10],
  ])('no output cap, outputs seen: %s', (_name, now, expected) => {
    const a = makeNode('a', { slots: 1 });
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0, { promptTokens: 100 });
    expect(expectedSlotWaitMs(a, 'm', t, taught([20, 40, 300]), now)).toBeCloseTo(expected, 6);
  });

  test('a request bound cold holds its slot through the load: its clock starts when the model is ready', () => {
    const a = makeNode('a', { slots: 1 });
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0, { promptTokens: 100, outputTokens: 100 });
    a.loaded.set('m:latest', { model: 'm:latest', optionsSignature: '', expiresAt: 1e9, readyAt: 2_000 });
    expect(expectedSlotWaitMs(a, 'm', t, taught(), 500)).toBeCloseTo(1_500 + 1_100, 6);
    expect(expectedSlotWaitMs(a, 'm', t, taught(), 2_500)).toBeCloseTo(600, 6);
  });

  test('a full node with nothing in our table (counted elsewhere) waits one service time', () => {
    const a = makeNode('a', { slots: 1 });
    a.inFlight = 1;
    expect(expectedSlotWaitMs(a, 'm', new SlotTable(), est(), 0)).toBe(SERVICE);
  });

  test('a model at its own per-model cap waits for its own requests, not the others', () => {
    const a = makeNode('a', { slots: 4, perModel: { 'm:latest': 1 } });
    const t = new SlotTable();
    t.acquire(a, 1, 'other', 0); // would finish first
    t.acquire(a, 2, 'm', 800);
    expect(a.freeSlots('m')).toBe(0);
    expect(expectedSlotWaitMs(a, 'm', t, est(), 1_000)).toBe(SERVICE - 200);
  });

  test('a capped model with room on its cap, on a node full of other models, waits for the soonest of those', () => {
    // The node is full overall; model m is under its own cap, so the next slot to free anywhere
    // on the node is m's. The estimate must not ignore the other models' requests.
    const a = makeNode('a', { slots: 2, perModel: { 'm:latest': 2 } });
    const t = new SlotTable();
    t.acquire(a, 1, 'other', 100);
    t.acquire(a, 2, 'other', 900);
    expect(a.freeSlots('m')).toBe(0);
    expect(expectedSlotWaitMs(a, 'm', t, est(), 950)).toBe(SERVICE - 850);
  });
});
