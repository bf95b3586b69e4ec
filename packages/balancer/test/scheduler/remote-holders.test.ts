import { DEFAULT_ESTIMATES, Estimates } from '../../src/scheduler/estimates';
import { RemoteHolders } from '../../src/scheduler/remote-holders';
import type { RemoteHolder } from '../../src/scheduler/scheduler-events';
import { SlotTable, expectedSlotWaitMs } from '../../src/scheduler/slot-table';
import { makeNode } from '../helpers';

const NOW = 1_000_000;

/** A holder that started `agoMs` before NOW on the scheduler's clock. */
function holder(model: string, agoMs: number, outputTokens?: number, cold = false): RemoteHolder {
  return { model, optionsSignature: '', startedAt: NOW - agoMs, work: { promptTokens: 0, outputTokens }, cold };
}

describe('RemoteHolders: other replicas’ requests, seen as local ones', () => {
  const est = new Estimates({ ...DEFAULT_ESTIMATES, generateTokensPerSec: 50, serviceMs: 30_000 });

  test('a node full of another replica’s requests waits as long as their remaining work, by the local rule', () => {
    const node = makeNode('a', { slots: 2 });
    const table = new SlotTable();
    const remote = new RemoteHolders();
    node.heldElsewhere = 2;
    // 100 tokens at 50/s, 1.5 s in: 0.5 s left; the other, unbounded, falls back to the service time.
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', bound: { lease: 'r1#1', holder: holder('m', 1_500, 100) } }, node, NOW, est);
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', bound: { lease: 'r1#2', holder: holder('m', 0) } }, node, NOW, est);
    expect(node.remoteHolders).toBe(2);
    expect(expectedSlotWaitMs(node, 'm', table, est, NOW, remote)).toBeCloseTo(500, -1);
    // Without them (the memory backend's view of a node full elsewhere): a whole service time.
    expect(expectedSlotWaitMs(node, 'm', table, est, NOW)).toBe(30_000);
  });

  test('remote holders count in the per-model counts, so a model’s cap holds against them, and go with their leases', () => {
    const node = makeNode('a', { slots: 4, perModel: { 'm:latest': 1 } });
    const remote = new RemoteHolders();
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', bound: { lease: 'r1#1', holder: holder('m', 0) } }, node, NOW, est);
    expect(node.freeSlots('m')).toBe(0);
    expect(node.freeSlots('other')).toBeGreaterThan(0);
    // The same lease announced twice (message, then a renewal round's list) is one holder.
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', all: [{ lease: 'r1#1', holder: holder('m', 0) }] }, node, NOW, est);
    expect(node.inFlightByModel.get('m:latest')).toBe(1);
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', gone: 'r1#1' }, node, NOW, est);
    expect(node.inFlightByModel.has('m:latest')).toBe(false);
    expect(node.freeSlots('m')).toBe(1);
  });

  test('a renewal round’s list replaces what was known (a missed release, a dead replica)', () => {
    const node = makeNode('a', { slots: 4 });
    const remote = new RemoteHolders();
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', bound: { lease: 'dead#1', holder: holder('m', 0) } }, node, NOW, est);
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', all: [{ lease: 'r2#7', holder: holder('q', 0) }] }, node, NOW, est);
    expect(Object.fromEntries(node.inFlightByModel)).toEqual({ 'q:latest': 1 });
    expect(node.remoteHolders).toBe(1);
    remote.clear(new Map([['a', node]]));
    expect(node.inFlightByModel.size).toBe(0);
    expect(node.remoteHolders).toBe(0);
    expect(remote.size()).toBe(0);
  });

  test('a remote holder of a model not resident here is a load there: it evicts what Ollama would', () => {
    const node = makeNode('a', { slots: 4 });
    node.spec.maxLoadedModels = 1;
    node.loaded.set('old:latest', { model: 'old:latest', optionsSignature: null, expiresAt: NOW + 60_000, lastUsed: NOW - 10_000 });
    const remote = new RemoteHolders();
    remote.apply({ type: 'remote-holders-changed', nodeId: 'a', bound: { lease: 'r1#1', holder: holder('new', 10, undefined, true) } }, node, NOW, est);
    expect([...node.loaded.keys()]).toEqual(['new:latest']);
    expect(node.isHot('new', '', NOW)).toBe(true);
  });
});
