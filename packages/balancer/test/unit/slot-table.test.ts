import { PoolNode } from '../../src/nodes/node';
import { SlotTable, expectedSlotWaitMs } from '../../src/scheduler/slot-table';
import { makeNode } from './helpers';

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
    expect(t.release(n, 1)).toBe(true);
    expect(t.release(n, 1)).toBe(false);
    expect(n.inFlight).toBe(1);
    expect(n.inFlightByModel.get('m:latest')).toBe(1);
    expect(t.release(n, 2)).toBe(true);
    expect(n.inFlight).toBe(0);
    expect(n.inFlightByModel.has('m:latest')).toBe(false);
    expect(t.total()).toBe(0);
  });

  test.each<[string, (t: SlotTable, a: PoolNode, b: PoolNode) => boolean]>([
    ['a request never acquired', (t, a) => t.release(a, 42)],
    ['a node never seen', (t, _a, b) => t.release(b, 1)],
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
    t.release(a, 1);
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
    expect(t.release(a, 1)).toBe(true);
    t.dropNode('a');
    expect(t.inFlightOn('a')).toBe(0);
  });
});

describe('expectedSlotWaitMs', () => {
  const SERVICE = 1_000;

  test('0 when a slot is free', () => {
    const a = makeNode('a', { slots: 2 });
    const t = new SlotTable();
    t.acquire(a, 1, 'm', 0);
    expect(expectedSlotWaitMs(a, 'm', t, SERVICE, 500)).toBe(0);
  });

  test.each<[string, number[], number, number]>([
    ['soonest expected finish among in-flight', [0, 400], 500, 500],
    ['a request just started waits the full service time', [1_000], 1_000, 1_000],
    ['overdue requests are assumed to end soon (5% floor), not to have ended', [0], 5_000, 50],
  ])('full node: %s', (_name, starts, now, expected) => {
    const a = makeNode('a', { slots: starts.length });
    const t = new SlotTable();
    starts.forEach((s, i) => t.acquire(a, i + 1, 'm', s));
    expect(expectedSlotWaitMs(a, 'm', t, SERVICE, now)).toBe(expected);
  });

  test('a full node with nothing in our table (counted elsewhere) waits one service time', () => {
    const a = makeNode('a', { slots: 1 });
    a.inFlight = 1;
    expect(expectedSlotWaitMs(a, 'm', new SlotTable(), SERVICE, 0)).toBe(SERVICE);
  });

  test('a model at its own per-model cap waits for its own requests, not the others', () => {
    const a = makeNode('a', { slots: 4, perModel: { 'm:latest': 1 } });
    const t = new SlotTable();
    t.acquire(a, 1, 'other', 0); // would finish first
    t.acquire(a, 2, 'm', 800);
    expect(a.freeSlots('m')).toBe(0);
    expect(expectedSlotWaitMs(a, 'm', t, SERVICE, 1_000)).toBe(800);
  });

  test('a capped model with room on its cap, on a node full of other models, waits for the soonest of those', () => {
    // The node is full overall; model m is under its own cap, so the next slot to free anywhere
    // on the node is m's. The estimate must not ignore the other models' requests.
    const a = makeNode('a', { slots: 2, perModel: { 'm:latest': 2 } });
    const t = new SlotTable();
    t.acquire(a, 1, 'other', 100);
    t.acquire(a, 2, 'other', 900);
    expect(a.freeSlots('m')).toBe(0);
    expect(expectedSlotWaitMs(a, 'm', t, SERVICE, 950)).toBe(150);
  });
});
