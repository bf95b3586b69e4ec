// The scheduler's admission: models and fallbacks, rate limits, queue bounds, tags, nodes down.
import { BackpressureError, ModelNotFoundError, NoAvailableNodeError, QueueFullError, QueueTimeoutError, RateLimitedError, ValidationError } from '../../src/errors';
import { Route } from '@ollama-ring/protocol';
import { modelNotFound } from '../../src/scheduler/admission-control';
import { fakeClockForEachTest, Harness, nodeSpec, settle } from '../helpers';

fakeClockForEachTest();

describe('admission', () => {
  test('a request binds at once to a free node, streams, and ends once', async () => {
    const routed: unknown[] = [];
    const h = new Harness({ observer: { routed: (e) => routed.push(e) } });
    const r = h.submit({ model: 'LLaMA3.2', prompt: 'hi' });
    const call = h.dispatcher.one();
    expect(call.job).toMatchObject({ requestId: r.ctx.id, nodeId: 'a', route: Route.Generate });
    expect(Harness.bodyOf(call)).toEqual({ model: 'LLaMA3.2', prompt: 'hi' });
    expect(r.ctx.state).toBe('dispatching');
    expect(h.node('a').inFlight).toBe(1);
    call.ok(['{"response":"x","done":false}\n', '{"response":"","done":true}\n']);
    await settle();
    expect(r.sink.starts).toEqual([{ nodeId: 'a', status: 200, headers: { 'content-type': 'application/x-ndjson' }, queueMs: 0, retries: 0 }]);
    expect(r.sink.chunks.join('')).toBe('{"response":"x","done":false}\n{"response":"","done":true}\n');
    expect(r.sink.ends).toEqual([{ final: undefined, ttftMs: 10, latencyMs: 100 }]);
    expect(routed).toEqual([{ requestId: r.ctx.id, model: 'llama3.2:latest', nodeId: 'a', strategy: 'first', cold: true, queueMs: 0, candidates: 2 }]);
    expect(h.ended).toMatchObject([{ requestId: r.ctx.id, outcome: 'success', nodeId: 'a', retries: 0 }]);
    h.expectIdle();
  });

  test('maxGlobalInFlight refuses admission with BackpressureError at the cap, and admits again once one ends', async () => {
    const rejected: string[] = [];
    const h = new Harness({ config: (c) => (c.disruptor.maxGlobalInFlight = 2), observer: { rejected: (k) => rejected.push(k) } });
    h.submit();
    h.submit();
    expect(() => h.submit()).toThrow(BackpressureError); // refused before it entered: not in h.submitted
    expect(rejected).toEqual(['backpressure']);
    expect(h.scheduler.liveCount()).toBe(2);
    h.dispatcher.open()[0].ok();
    await settle();
    const third = h.submit();
    expect(h.dispatcher.calls.map((c) => c.job.requestId)).toContain(third.ctx.id);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
    h.expectIdle();
  });

  test('queued requests count against maxGlobalInFlight too', () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.disruptor.maxGlobalInFlight = 2) });
    h.submit();
    h.submit(); // queued
    expect(() => h.scheduler.admitOrThrow()).toThrow(BackpressureError);
  });

  test('unadmit gives the place back (the ring was full after admission)', () => {
    const h = new Harness({ config: (c) => (c.disruptor.maxGlobalInFlight = 1) });
    h.scheduler.admitOrThrow();
    expect(() => h.scheduler.admitOrThrow()).toThrow(BackpressureError);
    h.scheduler.unadmit();
    expect(h.scheduler.liveCount()).toBe(0);
    h.scheduler.unadmit(); // never below zero
    expect(h.scheduler.liveCount()).toBe(0);
  });

  test.each<[string, Route, Record<string, unknown>, number]>([
    ['empty model on generate', Route.Generate, { model: '' }, 404],
    ['empty model on chat', Route.Chat, { model: '' }, 400],
    ['bad type', Route.Generate, { stream: 'yes' }, 400],
  ])('a validation rejection (%s) ends with ValidationError and its status, without dispatch', async (_n, route, body, status) => {
    const h = new Harness();
    const r = h.submit(body, { route });
    expect(r.sink.error).toBeInstanceOf(ValidationError);
    expect(r.sink.error?.status).toBe(status);
    expect(r.sink.errors[0].started).toBe(false);
    expect(h.dispatcher.calls).toHaveLength(0);
    expect(h.ended[0].outcome).toBe('rejected');
    h.expectIdle();
  });

  test('a rate-limited client is refused with RateLimitedError; others pass', async () => {
    const h = new Harness({
      limiter: {
        check: (key) => (key === 'greedy' ? new RateLimitedError('client', 2) : null),
        allowNode: () => true,
      },
    });
    const greedy = h.submit({}, { clientKey: 'greedy' });
    const polite = h.submit({}, { clientKey: 'polite' });
    expect(greedy.sink.error).toBeInstanceOf(RateLimitedError);
    expect(greedy.sink.error?.retryAfterSec).toBe(2);
    expect(h.dispatcher.calls.map((c) => c.job.requestId)).toEqual([polite.ctx.id]);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('a node over its rate makes the request wait, and it binds once the node allows', async () => {
    const allowed = new Set<string>();
    const h = new Harness({ nodes: [nodeSpec('a')], limiter: { check: () => null, allowNode: (id) => allowed.has(id) } });
    const r = h.submit();
    await settle(200);
    expect(h.dispatcher.calls).toHaveLength(0);
    expect(r.ctx.state).toBe('queued');
    allowed.add('a');
    await settle(100);
    expect(h.dispatcher.one().job.nodeId).toBe('a');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('a node over its rate does not hold a request back when another node is free', async () => {
    const h = new Harness({
      limiter: { check: () => null, allowNode: (id) => id !== 'a', nodeAvailable: (id) => id !== 'a' },
    });
    h.submit();
    await settle();
    expect(h.dispatcher.calls.map((c) => c.job.nodeId)).toEqual(['b']);
  });

  test.each<[Route, string]>([
    [Route.Generate, "model 'nope' not found"],
    [Route.Chat, "model 'nope' not found"],
    [Route.Embed, 'model "nope" not found, try pulling it first'],
    [Route.Embeddings, 'model "nope" not found, try pulling it first'],
    // The OpenAI layer forwards to /api/chat, /api/generate and /api/embed (ollama-api.md §7), so
    // Ollama's own texts are those of the native routes.
    [Route.OpenAIChat, "model 'nope' not found"],
    [Route.OpenAICompletions, "model 'nope' not found"],
    [Route.OpenAIEmbeddings, 'model "nope" not found, try pulling it first'],
  ])('no node has the model: route %i ends with ModelNotFoundError 404 %p', (route, message) => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['m'] })] });
    const body = route === Route.Chat || route === Route.OpenAIChat ? { model: 'nope', messages: [{ role: 'user', content: 'x' }] } : { model: 'nope', input: 'x', prompt: 'x' };
    const r = h.submit(body, { route });
    expect(r.sink.error).toBeInstanceOf(ModelNotFoundError);
    expect(r.sink.error).toMatchObject({ status: 404, message, model: 'nope' });
    expect(modelNotFound(route, 'nope').message).toBe(message);
    expect(h.ended[0].outcome).toBe('client_error');
    h.expectIdle();
  });

  test('a model only a removed node has is not found', () => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['m'] }), nodeSpec('b', { models: ['x'] })] });
    const busy = h.submit({ model: 'm' });
    void h.control.removeNode('a');
    h.scheduler.drain();
    const r = h.submit({ model: 'm' });
    expect(r.sink.error).toBeInstanceOf(ModelNotFoundError);
    void busy;
  });

  test.each<[string, Record<string, unknown>, { fallbackModel?: string }]>([
    ['body fallback_model', { fallback_model: 'small' }, {}],
    ['hint fallbackModel', {}, { fallbackModel: 'small' }],
  ])('%s: the request is sent with the fallback model, in a re-encoded body', async (_n, body, hints) => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['small'] })] });
    const r = h.submit({ model: 'big', prompt: 'p', ...body }, { hints });
    const call = h.dispatcher.one();
    expect(Harness.bodyOf(call)).toEqual({ model: 'small', prompt: 'p', ...body });
    expect(r.ctx.model).toBe('small:latest');
    call.ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    h.expectIdle(); // the original body and the rewritten one are both freed
  });

  // The fallback body is re-encoded in the arena; with the arena full, the old body's blocks take it
  // when it still fits them, and otherwise the request is refused as the arena-full bound says.
  test.each<[string, number, 'served' | 'refused']>([
    ['the rewritten body fits the freed blocks', 60, 'served'],
    ['the rewritten body needs one block more', 64, 'refused'],
  ])('fallback_model with the arena full: %s → %s', async (_n, bodyBytes, expected) => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['small'] })] });
    const bare = JSON.stringify({ model: 'big', prompt: '', fallback_model: 'small' }).length;
    const r = h.submit({ model: 'big', prompt: 'p'.repeat(bodyBytes - bare), fallback_model: 'small' }, { hold: true });
    expect(r.ctx.bodyLength).toBe(bodyBytes); // one 64-byte block; 'small' is 2 bytes longer than 'big'
    const filler: number[] = [];
    for (let off = h.arena.tryAlloc(64); off >= 0; off = h.arena.tryAlloc(64)) filler.push(off);
    h.validate(r);
    if (expected === 'served') {
      const call = h.dispatcher.one();
      expect(Harness.bodyOf(call)).toMatchObject({ model: 'small' });
      call.ok();
      await settle();
      expect(r.sink.ends).toHaveLength(1);
    } else {
      expect(h.dispatcher.calls).toHaveLength(0);
      expect(r.sink.error).toBeInstanceOf(BackpressureError);
      expect(r.sink.error?.status).toBe(503);
    }
    for (const off of filler) h.arena.free(off);
    h.expectIdle(); // the original body is freed either way
  });

  test('a fallback no node has either: not found, naming the requested model', () => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['m'] })] });
    const r = h.submit({ model: 'big', fallback_model: 'other' });
    expect(r.sink.error).toMatchObject({ message: "model 'big' not found" });
    h.expectIdle();
  });

  test('queue.maxDepth: the request past it ends with QueueFullError (503); the queued one still runs', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxDepth = 1) });
    h.submit();
    const queued = h.submit();
    const refused = h.submit();
    expect(queued.ctx.state).toBe('queued');
    expect(refused.sink.error).toBeInstanceOf(QueueFullError);
    expect(refused.sink.error?.status).toBe(503);
    h.dispatcher.one().ok();
    await settle();
    expect(h.dispatcher.one().job.requestId).toBe(queued.ctx.id);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('queue.maxDepth bounds the waiters only: a request a free slot takes at once is never refused', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 4, perModel: { 'm:latest': 1 } })], config: (c) => (c.queue.maxDepth = 1) });
    h.submit({ model: 'm' });
    const waiting = h.submit({ model: 'm' }); // the queue is now full
    const other = h.submit({ model: 'x' }); // a slot is free for x
    expect(waiting.ctx.state).toBe('queued');
    expect(other.sink.errors).toEqual([]);
    expect(other.ctx.state).toBe('dispatching');
    expect(h.submit({ model: 'm' }).sink.error).toBeInstanceOf(QueueFullError);
    for (let i = 0; i < 2; i++) {
      for (const c of h.dispatcher.open()) c.ok();
      await settle();
    }
    h.expectIdle();
  });

  test('queue.maxDepth 0: no waiting at all, but requests with a free slot still run', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxDepth = 0) });
    const r1 = h.submit();
    const r2 = h.submit();
    expect(r1.ctx.state).toBe('dispatching');
    expect(r2.sink.error).toBeInstanceOf(QueueFullError);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('queue.maxWaitMs 0: no waiting at all, but requests with a free slot still run', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxWaitMs = 0) });
    const r1 = h.submit();
    const r2 = h.submit();
    expect(r1.ctx.state).toBe('dispatching');
    await settle(1);
    expect(r2.sink.error).toBeInstanceOf(QueueTimeoutError);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('required tags no node carries: NoAvailableNodeError at once', () => {
    const h = new Harness({ nodes: [nodeSpec('a'), nodeSpec('b', { tags: ['cpu'] })] });
    const r = h.submit({ require_gpu: true });
    expect(r.sink.error).toBeInstanceOf(NoAvailableNodeError);
    expect(r.sink.error?.status).toBe(503);
    h.expectIdle();
  });

  test.each<[string, Record<string, unknown>, { tags?: string[] }]>([
    ['require_gpu in the body', { require_gpu: true }, {}],
    ['instance_tags in the body', { instance_tags: ['gpu'] }, {}],
    ['a tags hint', {}, { tags: ['gpu'] }],
  ])('%s routes to the tagged node only', async (_n, body, hints) => {
    const h = new Harness({ nodes: [nodeSpec('a'), nodeSpec('b', { tags: ['gpu'] })] });
    h.submit(body, { hints });
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('every capable node disabled or draining: NoAvailableNodeError, without waiting', () => {
    const h = new Harness();
    h.node('a').adminDisabled = true;
    h.node('b').draining = true;
    const r = h.submit();
    expect(r.sink.error).toBeInstanceOf(NoAvailableNodeError);
    h.expectIdle();
  });

  test('every capable node down or open-circuited: the request waits for recovery instead of failing', async () => {
    const h = new Harness();
    h.node('a').breaker.trip(Date.now());
    h.node('b').health = 'UNHEALTHY';
    const r = h.submit();
    await settle(500);
    expect(r.ctx.state).toBe('queued');
    expect(h.dispatcher.calls).toHaveLength(0);
    await settle(600); // a's breaker is half-open after 1 000 ms
    expect(h.dispatcher.one().job.nodeId).toBe('a');
    expect(h.node('a').breaker.state).toBe('half-open');
    h.dispatcher.one().ok();
    await settle();
    expect(h.node('a').breaker.state).toBe('closed');
    h.expectIdle();
  });
});
