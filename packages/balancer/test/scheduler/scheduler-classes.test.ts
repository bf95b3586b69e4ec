// Request classes (batch lines behind interactive requests), fair queuing between client keys, and
// the API keys' priority caps, as the scheduler applies them.
import type { PoolNode } from '../../src/nodes/node';
import type { Strategy } from '../../src/strategies/strategy';
import { fakeClockForEachTest, Harness, nodeSpec, settle } from '../helpers';

fakeClockForEachTest();

/** Places every request on node `a` when `a` is a candidate, busy or not (as a hot-node strategy waits for its hot node). */
class StickToA implements Strategy {
  readonly name = 'stick-to-a';
  select(candidates: readonly PoolNode[], req: { model: string }): PoolNode | null {
    const a = candidates.find((n) => n.id === 'a');
    if (a) return a;
    return candidates.find((n) => n.freeSlots(req.model) > 0) ?? null;
  }
}

async function finishAll(h: Harness): Promise<void> {
  for (let i = 0; i < 50 && h.dispatcher.open().length > 0; i++) {
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
  }
}

const nodeOf = (h: Harness, id: number) => h.dispatcher.calls.find((c) => c.job.requestId === id)?.job.nodeId;

describe('request classes', () => {
  test('batch lines fill idle slots at once when no interactive request waits', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 2 }), nodeSpec('b', { slots: 2 })] });
    const lines = [1, 2, 3, 4].map(() => h.submit({}, { requestClass: 'batch' }));
    expect(lines.map((l) => l.ctx.state)).toEqual(['dispatching', 'dispatching', 'dispatching', 'dispatching']);
    const fifth = h.submit({}, { requestClass: 'batch' });
    expect(fifth.ctx.state).toBe('queued');
    await finishAll(h);
    h.expectIdle();
  });

  test('an interactive request that arrives after waiting batch lines is served first, whatever their priority', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    const batch = h.submit({ priority: 'high' }, { requestClass: 'batch', hints: { priority: 100 } });
    const later = h.submit({ priority: 'low' });
    expect([batch.ctx.state, later.ctx.state]).toEqual(['queued', 'queued']);
    h.dispatcher.one().ok();
    await settle();
    expect(h.dispatcher.one().job.requestId).toBe(later.ctx.id);
    h.dispatcher.one().ok();
    await settle();
    expect(h.dispatcher.one().job.requestId).toBe(batch.ctx.id);
    await finishAll(h);
    h.expectIdle();
  });

  test('a batch line does not take a free slot an interactive waiter could use, even one its strategy waits elsewhere for', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1, models: ['m'] }), nodeSpec('b', { slots: 1, models: ['m', 'x'] })] });
    await h.control.setStrategy(new StickToA());
    h.submit({ model: 'm' }); // holds a
    const waiter = h.submit({ model: 'm' }); // waits for a; b is free and could serve it
    const batch = h.submit({ model: 'x' }, { requestClass: 'batch' });
    await settle(500);
    expect([waiter.ctx.state, batch.ctx.state]).toEqual(['queued', 'queued']);
    expect(h.node('b').inFlight).toBe(0);
    // a frees: the interactive waiter takes it, and b, wanted by nobody now, goes to the batch line.
    h.dispatcher.one().ok();
    await settle();
    expect(nodeOf(h, waiter.ctx.id)).toBe('a');
    expect(nodeOf(h, batch.ctx.id)).toBe('b');
    await finishAll(h);
    h.expectIdle();
  });

  test('an interactive waiter claims one slot of a node: batch lines take the others', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 }), nodeSpec('b', { slots: 3 })] });
    await h.control.setStrategy(new StickToA());
    h.submit(); // holds a
    h.submit(); // waits for a, could use b
    // The lines take any free node (their own strategy), but b has one slot the waiter could use.
    const lines = [1, 2, 3].map(() => h.submit({ model: 'x' }, { requestClass: 'batch', hints: { strategy: 'first' } }));
    await settle(200);
    expect(lines.map((l) => l.ctx.state).sort()).toEqual(['dispatching', 'dispatching', 'queued']);
    expect(h.node('b').inFlight).toBe(2);
    await finishAll(h);
    h.expectIdle();
  });

  test('batch lines with nothing interactive in the way stay on the strategy’s node (their model kept hot)', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 }), nodeSpec('b', { slots: 1 })] });
    await h.control.setStrategy(new StickToA());
    const lines = [1, 2, 3].map(() => h.submit({ model: 'x' }, { requestClass: 'batch' }));
    for (let i = 0; i < 3; i++) {
      h.dispatcher.one().ok();
      await settle();
    }
    expect(lines.map((l) => nodeOf(h, l.ctx.id))).toEqual(['a', 'a', 'a']);
    h.expectIdle();
  });

  test('the pool view counts queued and running requests by class', async () => {
    // Nothing cut (see scheduler-preemption.test.ts), so the interactive request waits behind the line.
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => void (c.queue.batchPreemptions = 0) });
    h.submit({}, { requestClass: 'batch' });
    h.submit();
    h.submit({}, { requestClass: 'batch' });
    const v = h.view();
    expect(v.classes).toEqual({ queued: { interactive: 1, batch: 1 }, running: { interactive: 0, batch: 1 }, preempted: 0 });
    expect(v.queue.waiting.map((w) => w.requestClass)).toEqual(['interactive', 'batch']);
    await finishAll(h);
    h.expectIdle();
  });
});

describe('fair queuing between client keys', () => {
  test('a key that floods the queue does not hold back another: a short burst goes ahead, then they take turns', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => void (c.queue.fairBurst = 2) });
    h.submit({}, { clientKey: 'flood' });
    for (let i = 0; i < 20; i++) h.submit({}, { clientKey: 'flood' });
    // The flood has been served a while (its own burst allowance, as a key that was idle, used up).
    for (let i = 0; i < 3; i++) {
      h.dispatcher.one().ok();
      await settle();
    }
    const light = [1, 2, 3, 4, 5].map(() => h.submit({}, { clientKey: 'light' }));
    const order: number[] = [];
    for (let i = 0; i < 10; i++) {
      h.dispatcher.one().ok();
      await settle();
      order.push(h.dispatcher.one().job.requestId);
    }
    const lightIds = light.map((l) => l.ctx.id);
    // The light key, behind its share, starts fairBurst (2) requests before the virtual time: those
    // two and the one at it go first; then light and flood alternate, and the flood goes on alone.
    expect(order.map((id) => (lightIds.includes(id) ? 'L' : 'F')).join('')).toBe('LLLFLFLFFF');
    await finishAll(h);
    h.expectIdle();
  });

  test('without a burst allowance (queue.fairBurst 0) the keys take turns from the first request', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => void (c.queue.fairBurst = 0) });
    h.submit({}, { clientKey: 'flood' });
    for (let i = 0; i < 20; i++) h.submit({}, { clientKey: 'flood' });
    const light = [1, 2, 3].map(() => h.submit({}, { clientKey: 'light' }));
    const order: number[] = [];
    for (let i = 0; i < 8; i++) {
      h.dispatcher.one().ok();
      await settle();
      order.push(h.dispatcher.one().job.requestId);
    }
    const lightIds = light.map((l) => l.ctx.id);
    expect(order.map((id) => (lightIds.includes(id) ? 'L' : 'F')).join('')).toBe('LFLFLFFF');
    await finishAll(h);
    h.expectIdle();
  });

  test('weights give a key a larger share; served counts are kept by key name, never the secret', async () => {
    const h = new Harness({
      nodes: [nodeSpec('a', { slots: 1 })],
      config: (c) => {
        // Shares alone: no key starts ahead of the virtual time.
        c.queue.fairBurst = 0;
        c.auth.apiKeys = [
          { key: 'sk-heavy', name: 'heavy', weight: 2 },
          { key: 'sk-plain' }, // no name: counted as key-2
        ];
      },
    });
    h.submit(); // holds the slot
    for (let i = 0; i < 30; i++) h.submit({}, { clientKey: 'sk-heavy' });
    for (let i = 0; i < 30; i++) h.submit({}, { clientKey: 'sk-plain' });
    for (let i = 0; i < 30; i++) {
      h.dispatcher.one().ok();
      await settle();
    }
    const served = h.view().fairShare;
    expect(served).toEqual({ anonymous: 1, heavy: 20, 'key-2': 10 });
    expect(JSON.stringify(served)).not.toContain('sk-');
    await finishAll(h);
    h.expectIdle();
  });
});

describe('auth.apiKeys[].maxPriority', () => {
  test("a key's requests are capped at its maxPriority, from the hint and from the body", async () => {
    const h = new Harness({
      nodes: [nodeSpec('a', { slots: 1 })],
      config: (c) => {
        c.auth.apiKeys = [{ key: 'sk-capped', maxPriority: 0 }, { key: 'sk-free' }];
      },
    });
    h.submit();
    const hinted = h.submit({}, { clientKey: 'sk-capped', hints: { priority: 50 } });
    const body = h.submit({ priority: 'high' }, { clientKey: 'sk-capped' });
    const free = h.submit({ priority: 5 }, { clientKey: 'sk-free' });
    const lowered = h.submit({ priority: -3 }, { clientKey: 'sk-capped' });
    expect([hinted.ctx.priority, body.ctx.priority, free.ctx.priority, lowered.ctx.priority]).toEqual([0, 0, 5, -3]);
    const order: number[] = [];
    for (let i = 0; i < 4; i++) {
      h.dispatcher.one().ok();
      await settle();
      order.push(h.dispatcher.one().job.requestId);
    }
    expect(order).toEqual([free, hinted, body, lowered].map((s) => s.ctx.id));
    await finishAll(h);
    h.expectIdle();
  });

  test("a reload's API keys apply to the requests admitted after it", async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const before = h.submit({ priority: 9 }, { clientKey: 'sk-x' });
    const cfg = structuredClone(h.config);
    cfg.auth.apiKeys = [{ key: 'sk-x', name: 'x', maxPriority: 1 }];
    await h.control.reload(cfg);
    const after = h.submit({ priority: 9 }, { clientKey: 'sk-x' });
    expect([before.ctx.priority, after.ctx.priority]).toEqual([9, 1]);
    await finishAll(h);
    // Counted under the name the key had when each was bound: no configured key yet, then `x`.
    expect(h.view().fairShare).toEqual({ other: 1, x: 1 });
    h.expectIdle();
  });
});
