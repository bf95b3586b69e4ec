import { SlotUsage, USAGE_WINDOW_MS } from '../../src/nodes/slot-usage';
import { SlotTable } from '../../src/scheduler/slot-table';
import { makeNode } from '../helpers';

const T0 = 1_000_000_500; // mid-bucket, as a real clock would be

describe('SlotUsage', () => {
  test('a node whose slots are all held all along reads 1; one never used reads 0', () => {
    const busy = new SlotUsage(T0);
    busy.advance(T0, 0, 2);
    const idle = new SlotUsage(T0);
    const b = busy.read(T0 + 30_000, 2, 2);
    expect(b.sinceStart).toBe(1);
    expect(b.lastMinute).toBe(1);
    expect(b.busySlotMs).toBe(60_000);
    expect(b.capacitySlotMs).toBe(60_000);
    const i = idle.read(T0 + 30_000, 0, 2);
    expect(i).toEqual({ busySlotMs: 0, capacitySlotMs: 60_000, sinceStart: 0, lastMinute: 0 });
  });

  test('integrates each in-flight level over the time it held', () => {
    const u = new SlotUsage(T0);
    u.advance(T0 + 1_000, 0, 4); // idle for 1 s, then one request
    u.advance(T0 + 3_000, 1, 4); // one for 2 s, then three
    u.advance(T0 + 4_000, 3, 4); // three for 1 s, then none
    const r = u.read(T0 + 4_000, 0, 4);
    expect(r.busySlotMs).toBe(2_000 + 3_000);
    expect(r.capacitySlotMs).toBe(16_000);
    expect(r.sinceStart).toBeCloseTo(5 / 16, 12);
    expect(r.lastMinute).toBeCloseTo(5 / 16, 12);
  });

  test('reading changes nothing: the time since the last change is added by the reader', () => {
    const u = new SlotUsage(T0);
    u.advance(T0 + 1_000, 0, 1);
    const a = u.read(T0 + 5_000, 1, 1);
    const b = u.read(T0 + 5_000, 1, 1);
    expect(a).toEqual(b);
    expect(a.sinceStart).toBeCloseTo(4 / 5, 12);
  });

  test('the last minute forgets what is older: busy for a minute, then idle for a minute', () => {
    const u = new SlotUsage(T0);
    u.advance(T0, 0, 1);
    u.advance(T0 + 60_000, 1, 1); // busy for the first minute
    const r = u.read(T0 + 120_000, 0, 1); // idle since
    expect(r.sinceStart).toBeCloseTo(0.5, 12);
    expect(r.lastMinute).toBe(0);
    // Half a minute later: still only idle time in the window.
    u.advance(T0 + 150_000, 0, 1);
    expect(u.read(T0 + 150_000, 0, 1).lastMinute).toBe(0);
  });

  test('the window is the last 59-60 s, to the second', () => {
    const u = new SlotUsage(T0);
    // Idle for 100 s, then busy for the last 30 s of it.
    u.advance(T0 + 70_000, 0, 1);
    const r = u.read(T0 + 100_000, 1, 1);
    const window = USAGE_WINDOW_MS;
    expect(r.lastMinute).toBeGreaterThanOrEqual(30_000 / window);
    expect(r.lastMinute).toBeLessThanOrEqual(30_000 / (window - 1_000));
  });

  test('a gap longer than the window clears it, and a clock that steps back books nothing', () => {
    const u = new SlotUsage(T0);
    u.advance(T0 + 10_000, 1, 1);
    u.advance(T0 + 500_000, 0, 1);
    expect(u.read(T0 + 500_000, 0, 1).lastMinute).toBe(0);
    u.advance(T0 + 400_000, 5, 1);
    expect(u.read(T0 + 500_000, 0, 1).busySlotMs).toBe(10_000);
  });

  test('the slot table books every bind and release on the node', () => {
    const n = makeNode('a', { slots: 2 });
    const t = new SlotTable();
    const start = Date.now();
    t.acquire(n, 1, 'm', start + 1_000);
    t.acquire(n, 2, 'm', start + 2_000);
    t.release(n, 1, start + 3_000);
    t.release(n, 2, start + 4_000);
    const r = n.usage.read(start + 4_000, n.inFlight, 2);
    // One slot 1-2 s, two 2-3 s, one 3-4 s: 4 slot-seconds of 8 (the node's clock began at `start` or just before).
    expect(r.busySlotMs).toBe(4_000);
    expect(r.sinceStart).toBeGreaterThan(0.49);
    expect(r.sinceStart).toBeLessThanOrEqual(0.5);
  });
});
