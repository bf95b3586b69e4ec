import { Route } from '@ollama-ring/protocol';
// The scheduler's late binding: queue order, per-model caps, hotness, per-request strategies.
import { fakeClockForEachTest, Harness, nodeSpec, PickStrategy, settle } from '../helpers';

fakeClockForEachTest();

describe('late binding and order', () => {
  test('a waiting request is bound when a slot frees, to that node, with its queue time', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    const second = h.submit();
    expect(second.ctx.state).toBe('queued');
    expect(h.dispatcher.calls).toHaveLength(1);
    await settle(500);
    expect(h.dispatcher.calls).toHaveLength(1); // never more than the node's slots
    h.dispatcher.one().ok();
    await settle();
    const call = h.dispatcher.one();
    expect(call.job.requestId).toBe(second.ctx.id);
    call.ok();
    await settle();
    expect(second.sink.starts[0].queueMs).toBe(500);
    h.expectIdle();
  });

  test('without failover.streamUpstream a non-streamed request has no first-byte deadline: its headers come with the whole answer', async () => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    h.config.failover.streamUpstream = false;
    h.submit({ model: 'm', stream: false });
    const job = h.dispatcher.calls[0].job;
    expect(job.assemble).toBeUndefined();
    expect(job.timeouts.firstByteMs).toBe(h.config.timeouts.requestTimeoutMs);
    expect(JSON.parse(Buffer.from(job.body).toString())).toMatchObject({ stream: false });
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  test('waiters are served by priority (hint, body number, body name), then arrival', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    const plain1 = h.submit();
    const high = h.submit({ priority: 'high' });
    const hinted = h.submit({}, { hints: { priority: 5 } });
    const plain2 = h.submit();
    const low = h.submit({ priority: 'low' });
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      const call = h.dispatcher.one();
      order.push(call.job.requestId);
      call.ok();
      await settle();
    }
    expect(order.slice(1)).toEqual([high, hinted, plain1, plain2, low].map((s) => s.ctx.id));
    h.expectIdle();
  });

  test('a waiting request binds to a node added after it arrived', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    const waiting = h.submit();
    void h.control.addNode(nodeSpec('b'));
    await settle();
    const onB = h.dispatcher.open().find((c) => c.job.nodeId === 'b');
    expect(onB?.job.requestId).toBe(waiting.ctx.id);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  test('a model held back by its per-model cap does not block another model behind it', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 4, perModel: { 'm:latest': 1 } })] });
    h.submit({ model: 'm' });
    const m2 = h.submit({ model: 'm' });
    const x = h.submit({ model: 'x' });
    expect(m2.ctx.state).toBe('queued');
    expect(h.dispatcher.calls.map((c) => c.job.requestId)).toContain(x.ctx.id);
    expect(h.node('a').inFlightByModel.get('m:latest')).toBe(1);
    for (let i = 0; i < 3; i++) {
      for (const c of h.dispatcher.open()) c.ok();
      await settle();
    }
    h.expectIdle();
  });

  test('the first dispatch to a node is cold, the next with the same options hot, other options cold again', async () => {
    const cold: string[] = [];
    const h = new Harness({ nodes: [nodeSpec('a')], observer: { coldLoad: (n, m) => cold.push(`${n}/${m}`) } });
    const t = h.config.timeouts;
    const r1 = h.submit({ model: 'm' });
    const r2 = h.submit({ model: 'm' });
    const r3 = h.submit({ model: 'm', options: { num_ctx: 8192 } });
    const r4 = h.submit({ model: 'm', stream: false });
    expect([r1.ctx.cold, r2.ctx.cold, r3.ctx.cold, r4.ctx.cold]).toEqual([true, false, true, true]);
    expect(cold).toEqual(['a/m:latest', 'a/m:latest', 'a/m:latest']);
    const [c1, c2] = h.dispatcher.calls;
    // A cold streaming request gets twice the expected load time (prior 5 s) on top of the first-byte timeout.
    expect(c1.job.timeouts).toEqual({ firstByteMs: t.firstByteTimeoutMs + 10_000, idleMs: t.idleTimeoutMs, totalMs: t.requestTimeoutMs });
    expect(c2.job.timeouts.firstByteMs).toBe(t.firstByteTimeoutMs);
    // A non-streamed generate is streamed from the node (failover.streamUpstream): a stream's deadline,
    // and its body now asks for a stream.
    const c4 = h.dispatcher.calls[3].job;
    expect(c4.assemble).toBe(Route.Generate);
    expect(c4.timeouts.firstByteMs).toBe(t.firstByteTimeoutMs + 10_000);
    expect(JSON.parse(Buffer.from(c4.body).toString())).toMatchObject({ stream: true });
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  // Ollama's eviction, mirrored (maxLoadedModels 2): loading a third model evicts the least recently
  // used idle one, so the next request for it is a cold load again, not a "hot" one that loads anyway.
  test.each<[string, string[], string, string[]]>([
    ['the LRU idle model goes', ['x', 'y', 'z'], 'x', ['x', 'y', 'z', 'x']],
    ['a model used since stays', ['x', 'y', 'x', 'z'], 'y', ['x', 'y', 'z', 'y']],
  ])('maxLoadedModels 2: %s', async (_n, models, again, coldOnes) => {
    const cold: string[] = [];
    const h = new Harness({ nodes: [{ ...nodeSpec('a', { slots: 1 }), maxLoadedModels: 2 }], observer: { coldLoad: (_node, m) => cold.push(m.split(':')[0]) } });
    for (const m of [...models, again]) {
      h.submit({ model: m });
      await settle(10);
      h.dispatcher.one().ok();
      await settle(10);
    }
    expect(cold).toEqual(coldOnes);
    expect(h.node('a').residentModels(Date.now())).toHaveLength(2);
    h.expectIdle();
  });

  test('the total timeout shrinks by the time already spent waiting', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    h.submit({ stream: false });
    await settle(5_000);
    h.dispatcher.one().ok();
    await settle();
    expect(h.dispatcher.one().job.timeouts.totalMs).toBe(h.config.timeouts.requestTimeoutMs - 5_000);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });
});

describe('per-request strategy override', () => {
  test.each<[string, Record<string, unknown>, { strategy?: string }, string]>([
    ['no override: the pool strategy', {}, {}, 'a'],
    ['a strategy hint', {}, { strategy: 'last' }, 'b'],
    ['load_balancing_strategy in the body', { load_balancing_strategy: 'last' }, {}, 'b'],
    ['the hint wins over the body', { load_balancing_strategy: 'last' }, { strategy: 'first' }, 'a'],
    ['an unknown name falls back to the pool strategy', { load_balancing_strategy: 'fastest' }, {}, 'a'],
    ['a real strategy name', { load_balancing_strategy: 'round_robin' }, {}, 'a'],
  ])('%s', async (_n, body, hints, node) => {
    const h = new Harness();
    h.submit(body, { hints });
    expect(h.dispatcher.one().job.nodeId).toBe(node);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('an unknown per-request name follows the pool strategy after the pool strategy changes', async () => {
    const h = new Harness();
    h.submit({ load_balancing_strategy: 'fastest' });
    expect(h.dispatcher.calls[0].job.nodeId).toBe('a');
    void h.control.setStrategy(new PickStrategy('last'));
    await settle();
    h.submit({ load_balancing_strategy: 'fastest' });
    expect(h.dispatcher.calls[1].job.nodeId).toBe('b');
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  test('override instances keep their own state across requests (round-robin rotates)', async () => {
    const h = new Harness();
    for (let i = 0; i < 3; i++) h.submit({ load_balancing_strategy: 'round-robin' });
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'b', 'a']);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  test('every spelling of a strategy is one instance: the overrides are keyed by canonical name, so clients cannot grow them without bound', async () => {
    const h = new Harness();
    for (const name of ['round-robin', ' Round_Robin', 'ROUND ROBIN', 'round_robin  ']) h.submit({ load_balancing_strategy: name });
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'b', 'a', 'b']);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });
});

describe('what binding tells the wait estimates', () => {
  test.each<[string, Record<string, unknown>, number | undefined]>([
    ['Ollama options.num_predict', { options: { num_predict: 120 } }, 120],
    ['no cap', {}, undefined],
  ])('the slot records the prompt size and the output cap (%s)', async (_name, body, cap) => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const s = h.submit({ prompt: 'x'.repeat(400), ...body });
    const [holder] = h.scheduler.slots.holders('a');
    expect(holder.requestId).toBe(s.ctx.id);
    expect(holder.work).toEqual({ promptTokens: s.ctx.facts!.promptTokens, outputTokens: cap });
    expect(s.ctx.facts!.promptTokens).toBeGreaterThan(0);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('waitingFor counts the queue for a node’s resident models, not the request being routed', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const a = h.node('a');
    a.loaded.set('m:latest', { model: 'm:latest', optionsSignature: '', expiresAt: Date.now() + 60_000 });
    h.submit();
    h.submit();
    h.submit();
    h.submit({ model: 'other' });
    expect(h.scheduler.queue.size).toBe(3);
    const ctx = h.scheduler.binder.routingContext(Date.now());
    expect(ctx.waitingFor!(a, 'other:latest')).toBe(2); // two m requests queued; 'other' is not resident
    expect(ctx.waitingFor!(a, 'm:latest')).toBe(1); // the m request being routed is one of the two
    for (let i = 0; i < 4; i++) {
      h.dispatcher.one().ok();
      await settle();
    }
    h.expectIdle();
  });
});
