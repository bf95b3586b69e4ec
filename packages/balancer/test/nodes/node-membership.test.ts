// Admin commands, added and removed nodes, config reloads and the NodeRegistry, applied to a real Scheduler (fake dispatch).
import type { BalancerConfig } from '../../src/config/types';
import { InvalidNodeError } from '../../src/errors';
import type { NodeSpec } from '../../src/nodes/node';
import { addNode, applyConfig, applyNodeCommand, removeNode } from '../../src/nodes/node-events';
import { NodeRegistry } from '../../src/nodes/node-registry';
import type { Scheduler } from '../../src/scheduler/scheduler';
import { fakeClockForEachTest, Harness, nodeSpec, settle, testStrategies } from '../helpers';

fakeClockForEachTest();

/** Applies `fn` to the scheduler's state as its event handlers do, followed by a scheduling pass. */
async function apply(h: Harness, fn: (s: Scheduler) => void): Promise<void> {
  fn(h.scheduler);
  h.scheduler.drain();
  await settle();
}

function reloaded(h: Harness, change: (c: BalancerConfig) => void): BalancerConfig {
  const cfg: BalancerConfig = structuredClone(h.scheduler.config);
  change(cfg);
  return cfg;
}

describe('admin commands', () => {
  test.each<['enable' | 'disable' | 'drain', { adminDisabled: boolean; draining: boolean; routable: boolean }]>([
    ['disable', { adminDisabled: true, draining: false, routable: false }],
    ['drain', { adminDisabled: false, draining: true, routable: false }],
    ['enable', { adminDisabled: false, draining: false, routable: true }],
  ])('%s', (cmd, expected) => {
    const h = new Harness();
    const a = h.node('a');
    a.adminDisabled = cmd === 'enable';
    a.draining = cmd === 'enable';
    expect(applyNodeCommand(h.scheduler, 'a', cmd)).toBe(a);
    expect({ adminDisabled: a.adminDisabled, draining: a.draining, routable: a.isRoutable(Date.now()) }).toEqual(expected);
  });

  test.each(['enable', 'disable', 'drain'] as const)('%s of an unknown or removed node is InvalidNodeError 404', (cmd) => {
    const h = new Harness();
    expect(() => applyNodeCommand(h.scheduler, 'zz', cmd)).toThrow(InvalidNodeError);
    h.submit(); // keeps a busy, so removal leaves it in the map
    removeNode(h.scheduler, 'a');
    let err: unknown;
    try {
      applyNodeCommand(h.scheduler, 'a', cmd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidNodeError);
    expect((err as InvalidNodeError).status).toBe(404);
  });

  test('draining lets in-flight requests finish and gives the node nothing new', async () => {
    const h = new Harness();
    const r1 = h.submit();
    await apply(h, (s) => void applyNodeCommand(s, 'a', 'drain'));
    h.submit();
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'b']);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    expect(r1.sink.ends).toHaveLength(1);
    h.expectIdle();
  });

  test('addNode: a new node takes requests, and the dispatcher learns it', async () => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    await apply(h, (s) => void addNode(s, nodeSpec('b', { url: 'http://b:1', slots: 7 })));
    expect(h.dispatcher.nodes).toContainEqual({ id: 'b', url: 'http://b:1', connections: 7 });
    h.node('a').adminDisabled = true;
    h.submit();
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('addNode of an existing id is InvalidNodeError 409', () => {
    const h = new Harness();
    let err: unknown;
    try {
      addNode(h.scheduler, nodeSpec('a'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidNodeError);
    expect((err as InvalidNodeError).status).toBe(409);
  });

  test('removeNode of an idle node drops it at once', async () => {
    const removed: string[] = [];
    const h = new Harness({ observer: { nodeRemoved: (id) => removed.push(id) } });
    await apply(h, (s) => removeNode(s, 'a'));
    expect(h.scheduler.nodes.has('a')).toBe(false);
    expect(h.dispatcher.nodes.map((n) => n.id)).toEqual(['b']);
    expect(removed).toEqual(['a']);
    expect(() => removeNode(h.scheduler, 'a')).toThrow(InvalidNodeError);
  });

  test('removeNode of a busy node keeps it until its last request ends, and routes nothing new to it', async () => {
    const removed: string[] = [];
    const h = new Harness({ observer: { nodeRemoved: (id) => removed.push(id) } });
    const r = h.submit();
    await apply(h, (s) => removeNode(s, 'a'));
    expect(h.scheduler.nodes.has('a')).toBe(true);
    expect(new NodeRegistry(h.control, () => h.view().nodes.slice()).getNode('a')).toBeUndefined();
    h.submit();
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'b']);
    h.dispatcher.calls[0].ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    expect(h.scheduler.nodes.has('a')).toBe(false);
    expect(removed).toEqual(['a']);
    expect(h.dispatcher.nodes.map((n) => n.id)).toEqual(['b']);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('a removed node re-added while its old requests still run keeps counting them (never over its slots)', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const old = h.submit();
    await apply(h, (s) => removeNode(s, 'a'));
    await apply(h, (s) => void addNode(s, nodeSpec('a', { slots: 1 })));
    expect(h.node('a').inFlight).toBe(1);
    const next = h.submit();
    expect(h.dispatcher.open()).toHaveLength(1); // the old request still holds the only slot
    expect(next.ctx.state).toBe('queued');
    h.dispatcher.one().ok();
    await settle();
    expect(old.sink.ends).toHaveLength(1);
    expect(h.dispatcher.one().job.requestId).toBe(next.ctx.id);
    expect(h.node('a').inFlight).toBe(1);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });
});

describe('applyConfig (reload)', () => {
  test('kept: in-flight counts, the waiting queue, learned estimates and breaker state of surviving nodes', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 }), nodeSpec('b', { slots: 1 })] });
    const r1 = h.submit();
    const r2 = h.submit();
    const waiting = h.submit();
    h.estimates.recordCompletion('a', 'm:latest', undefined, { ttftMs: 1, latencyMs: 1_234 });
    h.node('b').breaker.trip(Date.now());
    const cfg = reloaded(h, (c) => {
      c.nodes = [nodeSpec('a', { slots: 1, weight: 5 }), nodeSpec('b', { slots: 1 }), nodeSpec('c', { slots: 1 })];
      c.healthCheck.circuitBreakerRecoveryMs = 100_000;
    });
    await apply(h, (s) => applyConfig(s, cfg, testStrategies));
    expect([h.node('a').inFlight, h.node('b').inFlight]).toEqual([1, 1]);
    expect(h.node('a').spec.weight).toBe(5);
    expect(h.estimates.latencyMs('a')).toBe(1_234);
    expect(h.node('b').breaker.state).toBe('open');
    // The waiting request is still queued, and binds to the new node at once.
    expect(h.dispatcher.open().map((c) => [c.job.requestId, c.job.nodeId])).toContainEqual([waiting.ctx.id, 'c']);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    expect([r1, r2, waiting].map((r) => r.sink.ends.length)).toEqual([1, 1, 1]);
    h.expectIdle();
  });

  test('more slots in a reload bind waiting requests at once', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    h.submit();
    expect(h.dispatcher.open()).toHaveLength(1);
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.nodes = [nodeSpec('a', { slots: 2 })])),
        testStrategies,
      ),
    );
    expect(h.dispatcher.open()).toHaveLength(2);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  test('a node dropped from the config drains: its requests finish, then it goes with what was learned about it', async () => {
    const h = new Harness();
    const r = h.submit();
    h.estimates.recordCompletion('a', 'm:latest', undefined, { ttftMs: 1, latencyMs: 777 });
    h.estimates.recordCompletion('b', 'm:latest', undefined, { ttftMs: 1, latencyMs: 555 });
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.nodes = [nodeSpec('b')])),
        testStrategies,
      ),
    );
    expect(h.node('a').removed).toBe(true);
    expect(h.estimates.samples('a')).toBe(0);
    expect(h.estimates.latencyMs('b')).toBe(555);
    h.submit();
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'b']);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    expect(h.scheduler.nodes.has('a')).toBe(false);
    h.expectIdle();
  });

  test('a node dropped and restored by the next reload while busy is the same node, in-flight kept', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    const both = h.scheduler.config;
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.nodes = [nodeSpec('b')])),
        testStrategies,
      ),
    );
    await apply(h, (s) => applyConfig(s, structuredClone(both), testStrategies));
    expect(h.node('a').removed).toBe(false);
    expect(h.node('a').inFlight).toBe(1);
    h.dispatcher.one().ok();
    await settle();
    expect(h.scheduler.nodes.has('a')).toBe(true);
    h.expectIdle();
  });

  test('an admin drain or disable survives an unrelated reload', async () => {
    const h = new Harness();
    applyNodeCommand(h.scheduler, 'a', 'drain');
    applyNodeCommand(h.scheduler, 'b', 'disable');
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.queue.maxDepth = 5)),
        testStrategies,
      ),
    );
    expect(h.node('a').draining).toBe(true);
    expect(h.node('b').adminDisabled).toBe(true);
  });

  test('new breaker thresholds apply to surviving nodes', async () => {
    const h = new Harness({ nodes: [nodeSpec('a')], config: (c) => (c.retry.maxRetries = 0) });
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.healthCheck.circuitBreakerFailureThreshold = 1)),
        testStrategies,
      ),
    );
    h.submit();
    h.dispatcher.one().httpError(500);
    await settle();
    expect(h.node('a').breaker.state).toBe('open');
    h.expectIdle();
  });

  test('the strategy is replaced only when its type changes', async () => {
    const h = new Harness();
    const before = h.scheduler.strategy;
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.queue.maxDepth = 5)),
        testStrategies,
      ),
    );
    expect(h.scheduler.strategy).toBe(before);
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.strategy.type = 'last')),
        testStrategies,
      ),
    );
    expect(h.scheduler.strategy.name).toBe('last');
    h.submit();
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('the new config object is the scheduler’s from then on (e.g. queue bounds)', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    await apply(h, (s) =>
      applyConfig(
        s,
        reloaded(h, (c) => (c.queue.maxDepth = 0)),
        testStrategies,
      ),
    );
    const r = h.submit();
    expect(r.sink.error?.code).toBe('ERR_QUEUE_FULL');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });
});

describe('NodeRegistry', () => {
  test('snapshots are copies; commands resolve once applied, and reject with the error', async () => {
    const h = new Harness();
    const reg = new NodeRegistry(h.control, () => h.view().nodes.slice());
    const snap = reg.getNode('a')!;
    snap.tags.push('mutated');
    expect(h.node('a').spec.tags).toEqual([]);
    const p = reg.disable('a');
    expect(h.node('a').adminDisabled).toBe(false); // not yet: it is an event
    await settle();
    await expect(p).resolves.toMatchObject({ id: 'a', adminDisabled: true });
    const bad = reg.drain('zz');
    await settle();
    await expect(bad).rejects.toBeInstanceOf(InvalidNodeError);
    const spec: NodeSpec = nodeSpec('c');
    const added = reg.add(spec);
    await settle();
    await expect(added).resolves.toMatchObject({ id: 'c', inFlight: 0 });
    expect(reg.getAllNodes().map((n) => n.id)).toEqual(['a', 'b', 'c']);
  });
});
