// The scheduler against a fake dispatcher whose every dispatch the test settles by hand. Each test
// ends with `expectIdle()`: every request ended exactly once, nothing live, queued or in flight, and
// the arena holds no body.
import {
  BackpressureError,
  ModelNotFoundError,
  NoAvailableNodeError,
  QueueFullError,
  QueueTimeoutError,
  RateLimitedError,
  RequestAbortedError,
  UpstreamError,
  UpstreamTimeoutError,
  ValidationError,
} from '../../src/errors';
import { Route } from '../../src/events';
import { addNode, applyHealth } from '../../src/nodes/node-events';
import { nextHealth } from '../../src/nodes/health-monitor';
import type { SchedulerObserver } from '../../src/scheduler/observer';
import { modelNotFound } from '../../src/scheduler/scheduler';
import { Harness, PickStrategy, RecordingSink, nodeSpec, settle, useFakeClock } from './helpers';

beforeEach(() => useFakeClock());
afterEach(() => {
  jest.clearAllTimers();
  jest.useRealTimers();
});

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
    const body =
      route === Route.Chat || route === Route.OpenAIChat
        ? { model: 'nope', messages: [{ role: 'user', content: 'x' }] }
        : { model: 'nope', input: 'x', prompt: 'x' };
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
    h.scheduler.post({ type: 'apply', label: 'rm', fn: (s) => ((s.nodes.get('a')!.removed = true), undefined) });
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
    h.scheduler.post({ type: 'apply', label: 'add', fn: (s) => void addNode(s, nodeSpec('b')) });
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
    // A non-streaming request sends its headers only with the whole answer: first byte = total.
    expect(h.dispatcher.calls[3].job.timeouts.firstByteMs).toBe(t.requestTimeoutMs);
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
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
    h.scheduler.post({ type: 'apply', label: 'set-strategy', fn: (s) => void (s.strategy = new PickStrategy('last')) });
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
});

describe('retries', () => {
  test('a 503 before the first byte is retried on another node after a backoff; the client sees one success', async () => {
    const retries: string[] = [];
    const h = new Harness({ observer: { retry: (n) => retries.push(n) } });
    const r = h.submit();
    h.dispatcher.one().httpError(503, '{"error":"server busy, please try again.  maximum pending requests exceeded"}');
    await settle();
    expect(r.ctx.state).toBe('backoff');
    expect(h.node('a').inFlight).toBe(0); // the slot is freed during the backoff
    await settle(49); // first backoff is 50..100 ms
    expect(h.dispatcher.calls).toHaveLength(1);
    await settle(51);
    const retry = h.dispatcher.one();
    expect(retry.job.nodeId).toBe('b'); // the strategy would pick a again; a failed this request
    retry.ok();
    await settle();
    expect(r.sink.errors).toEqual([]);
    expect(r.sink.starts).toMatchObject([{ nodeId: 'b', retries: 1 }]);
    expect(retries).toEqual(['a']);
    expect(h.node('a').failedRequests).toBe(1);
    expect(h.node('a').breaker.state).toBe('closed');
    expect(h.estimates.successRate('a')).toBeLessThan(1);
    h.expectIdle();
  });

  test.each<[string, (c: import('./helpers').Call) => void]>([
    ['429', (c) => c.httpError(429)],
    ['500', (c) => c.httpError(500)],
    ['a reset before the first byte', (c) => c.fail()],
    ['a first-byte timeout', (c) => c.fail({ error: new UpstreamTimeoutError(c.job.nodeId, 'first-byte', 1) })],
    ['a dispatcher that rejects', (c) => c.crash(new Error('worker died'))],
  ])('%s is retried elsewhere', async (_n, failIt) => {
    const h = new Harness();
    const r = h.submit();
    failIt(h.dispatcher.one());
    await settle(100);
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    h.expectIdle();
  });

  test('retries stop at maxRetries; the request ends with the last upstream error, its body passed through', async () => {
    const h = new Harness();
    const r = h.submit();
    for (let i = 0; i <= h.config.retry.maxRetries; i++) {
      h.dispatcher.one().httpError(503, `{"error":"busy ${i}"}`);
      await settle(1_000);
    }
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'b', 'a']); // with every node excluded, any will do
    const err = r.sink.error as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect([err.status, err.message, err.body]).toEqual([503, 'busy 2', '{"error":"busy 2"}']);
    expect(r.sink.errors[0].started).toBe(false);
    expect(h.ended[0]).toMatchObject({ outcome: 'upstream_error', retries: 2 });
    h.expectIdle();
  });

  test('with one node, the retry goes back to it', async () => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    h.submit();
    h.dispatcher.one().httpError(503);
    await settle(100);
    expect(h.dispatcher.nodeIds()).toEqual(['a', 'a']);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('a 4xx is passed to the client unchanged, not retried, and not held against the node', async () => {
    const h = new Harness();
    const r = h.submit();
    h.dispatcher.one().httpError(400, '{"error":"\\"m\\" does not support thinking"}');
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    expect(r.sink.error).toMatchObject({ status: 400, message: '"m" does not support thinking', body: '{"error":"\\"m\\" does not support thinking"}' });
    expect(h.node('a').failedRequests).toBe(0);
    expect(h.estimates.successRate('a')).toBe(1);
    expect(h.ended[0].outcome).toBe('client_error');
    h.expectIdle();
  });

  test('a 404 model-not-found is retried on a node that still claims the model, and remembered', async () => {
    const h = new Harness();
    const r = h.submit({ model: 'm' });
    h.dispatcher.one().httpError(404, '{"error":"model \'m\' not found"}');
    await settle(100);
    expect(h.node('a').hasModel('m')).toBe(false);
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    // The next request for m goes straight to b.
    h.submit({ model: 'm' });
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('a 404 model-not-found with no other node claiming it ends at once with the 404', async () => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    const r = h.submit({ model: 'm' });
    h.dispatcher.one().httpError(404, '{"error":"model \'m\' not found"}');
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    expect(r.sink.error).toMatchObject({ status: 404, message: "model 'm' not found" });
    expect(h.node('a').breaker.state).toBe('closed');
    h.expectIdle();
  });

  test('a refused connection trips the node at once and the request goes elsewhere', async () => {
    const h = new Harness();
    const r = h.submit();
    h.node('a').loaded.set('m:latest', { model: 'm:latest', optionsSignature: '', expiresAt: Infinity });
    h.dispatcher.one().fail({ refused: true });
    await settle();
    expect(h.node('a').breaker.state).toBe('open');
    expect(h.node('a').health).toBe('UNHEALTHY');
    expect(h.node('a').loaded.size).toBe(0);
    await settle(100);
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    h.submit();
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('consecutive failures open the breaker at the threshold', async () => {
    const h = new Harness({ config: (c) => (c.retry.maxRetries = 0) });
    for (let i = 0; i < 3; i++) {
      h.submit();
      h.dispatcher.one().httpError(500);
      await settle();
      expect(h.node('a').breaker.state).toBe(i < 2 ? 'closed' : 'open');
    }
    h.submit();
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('a failure after the first byte is not retried: the error goes in-band', async () => {
    const h = new Harness();
    const r = h.submit();
    const call = h.dispatcher.one();
    call.stream('{"response":"par","done":false}\n');
    call.fail({ error: new UpstreamTimeoutError('a', 'idle', 30_000) });
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    expect(r.sink.chunks).toEqual(['{"response":"par","done":false}\n']);
    expect(r.sink.errors).toHaveLength(1);
    expect(r.sink.errors[0]).toMatchObject({ started: true });
    expect(r.sink.error).toBeInstanceOf(UpstreamTimeoutError);
    expect(h.ended[0].outcome).toBe('timeout');
    h.expectIdle();
  });

  test('a dispatcher that rejects after streaming has begun is not retried', async () => {
    const h = new Harness();
    const r = h.submit();
    h.dispatcher.one().stream('{"a":1}\n');
    h.dispatcher.one().crash(new Error('thread died'));
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    expect(r.sink.errors[0]).toMatchObject({ started: true });
    expect(r.sink.error?.message).toContain('thread died');
    h.expectIdle();
  });

  test('an in-band error line ends the request with an error and counts as a node failure only', async () => {
    const h = new Harness({ config: (c) => (c.retry.maxRetries = 0) });
    const r = h.submit();
    h.dispatcher.one().stream('{"response":"can","done":false}\n', '{"error":"runner crashed"}\n');
    h.dispatcher.one().finish({ kind: 'ok', status: 200, started: true, ttftMs: 5, latencyMs: 50, inBandError: 'runner crashed' });
    await settle();
    expect(r.sink.errors).toHaveLength(1);
    expect(r.sink.errors[0]).toMatchObject({ started: true });
    expect(r.sink.error?.message).toBe('runner crashed');
    expect(h.node('a').failedRequests).toBe(1);
    // On a fresh node one failure and nothing else: success rate 0, as for any other failure.
    expect(h.estimates.successRate('a')).toBe(0);
    expect(h.estimates.samples('a')).toBe(0);
    h.expectIdle();
  });

  test('a request that waits in the queue past its deadline after a retry ends with the upstream error', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxWaitMs = 1_000) });
    const r1 = h.submit();
    h.dispatcher.one().httpError(503, '{"error":"busy"}');
    await settle();
    const r2 = h.submit(); // takes the slot during r1's backoff
    await settle(100);
    expect(r1.ctx.state).toBe('queued');
    await settle(1_000);
    expect(r1.sink.error).toMatchObject({ status: 503, message: 'busy' });
    h.dispatcher.one().ok();
    await settle();
    expect(r2.sink.ends).toHaveLength(1);
    h.expectIdle();
  });
});

describe('aborts', () => {
  test('while admitted (still in the ring): ends at once; the later scheduling pass ignores it', async () => {
    const h = new Harness();
    const r = h.submit({}, { hold: true });
    h.abort(r);
    await settle();
    expect(r.sink.error).toBeInstanceOf(RequestAbortedError);
    expect(r.sink.error?.status).toBe(499);
    h.validate(r);
    expect(h.dispatcher.calls).toHaveLength(0);
    expect(h.ended[0].outcome).toBe('aborted');
    h.expectIdle();
  });

  test('while queued: leaves the queue, ends once, and is never dispatched', async () => {
    const depths: number[] = [];
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], observer: { queueChanged: (d) => depths.push(d.get('m:latest') ?? 0) } });
    h.submit();
    const r = h.submit();
    h.abort(r);
    await settle();
    expect(r.sink.error).toBeInstanceOf(RequestAbortedError);
    expect(h.scheduler.queue.size).toBe(0);
    expect(depths.slice(-2)).toEqual([1, 0]); // queued, then gone

    h.dispatcher.one().ok();
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    h.expectIdle();
  });

  test('during a retry backoff: ends once, and the retry never happens', async () => {
    const h = new Harness();
    const r = h.submit();
    h.dispatcher.one().httpError(503);
    await settle();
    expect(r.ctx.state).toBe('backoff');
    h.abort(r);
    await settle(5_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    expect(r.sink.errors).toHaveLength(1);
    expect(r.sink.error).toBeInstanceOf(RequestAbortedError);
    h.expectIdle();
  });

  test('during a retry backoff, right after the backoff timer fired: still ends once, never dispatched', async () => {
    const h = new Harness();
    const r = h.submit();
    h.dispatcher.one().httpError(503);
    await settle();
    // Fire the backoff timer (it posts the re-enqueue), and abort before that event is applied.
    jest.advanceTimersToNextTimer();
    expect(r.ctx.state).toBe('backoff');
    h.abort(r);
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    expect(r.sink.endings).toBe(1);
    h.expectIdle();
  });

  test('while dispatching: aborts upstream; ends once when dispatch settles; the slot goes to the next waiter', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const r = h.submit();
    const next = h.submit();
    const call = h.dispatcher.one();
    call.stream('{"a":1}\n');
    h.abort(r);
    await settle();
    expect(call.job.signal.aborted).toBe(true);
    expect(call.job.signal.reason).toBeInstanceOf(RequestAbortedError);
    expect(r.sink.endings).toBe(0); // not until dispatch says it has stopped
    expect(h.node('a').inFlight).toBe(1);
    call.aborted();
    await settle();
    expect(r.sink.errors).toEqual([{ error: expect.any(RequestAbortedError), started: true }]);
    expect(h.dispatcher.one().job.requestId).toBe(next.ctx.id);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('while dispatching, even if the dispatch then reports success, the request ends as aborted', async () => {
    const h = new Harness();
    const r = h.submit();
    h.abort(r);
    await settle();
    h.dispatcher.one().ok();
    await settle();
    expect(r.sink.ends).toHaveLength(0);
    expect(r.sink.error).toBeInstanceOf(RequestAbortedError);
    expect(h.ended[0].outcome).toBe('aborted');
    h.expectIdle();
  });

  test('while dispatch waits for a reader that has gone (sink never drains), the abort releases it', async () => {
    const h = new Harness();
    const sink = new RecordingSink();
    sink.onChunk = (chunk) => (sink.chunks.push(Buffer.from(chunk).toString('utf8')), false); // always over high water
    sink.drained = () => new Promise<void>(() => undefined); // the reader left: never drains
    const r = h.submit({}, { sink });
    const call = h.dispatcher.one();
    call.stream('{"a":1}\n');
    let released = false;
    void call.job.sink.drained!().then(() => (released = true));
    await settle();
    expect(released).toBe(false); // backpressure holds while the request lives
    h.abort(r);
    await settle();
    expect(released).toBe(true);
    call.aborted();
    await settle();
    expect(r.sink.error).toBeInstanceOf(RequestAbortedError);
    h.expectIdle();
  });

  test('drained() passes through when the sink drains normally', async () => {
    const h = new Harness();
    const sink = new RecordingSink();
    let drain!: () => void;
    sink.drained = () => new Promise<void>((res) => (drain = res));
    h.submit({}, { sink });
    const call = h.dispatcher.one();
    let released = false;
    void call.job.sink.drained!().then(() => (released = true));
    await settle();
    expect(released).toBe(false);
    drain();
    await settle();
    expect(released).toBe(true);
    call.ok();
    await settle();
    h.expectIdle();
  });

  test('a sink without drained() gives dispatch none', async () => {
    const h = new Harness();
    h.submit();
    expect(h.dispatcher.one().job.sink.drained).toBeUndefined();
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('an aborted dispatch is not a node failure', async () => {
    const h = new Harness();
    const r = h.submit();
    h.abort(r);
    await settle();
    h.dispatcher.one().aborted();
    await settle();
    expect(h.node('a').failedRequests).toBe(0);
    expect(h.node('a').breaker.state).toBe('closed');
    h.expectIdle();
  });

  test('an aborted half-open trial frees the trial place', async () => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    h.node('a').breaker.trip(Date.now());
    await settle(1_000);
    const r = h.submit();
    expect(h.node('a').breaker.state).toBe('half-open');
    const other = h.submit();
    expect(other.ctx.state).toBe('queued'); // one trial at a time
    h.abort(r);
    await settle();
    h.dispatcher.one().aborted();
    await settle();
    expect(h.dispatcher.one().job.requestId).toBe(other.ctx.id);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('aborting twice, or after the end, changes nothing', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const done = h.submit();
    const q = h.submit();
    h.dispatcher.one().ok();
    await settle();
    h.abort(done);
    h.abort(q);
    h.abort(q);
    await settle();
    expect(done.sink.ends).toHaveLength(1);
    h.dispatcher.one().ok(); // q was dispatching; it ends when dispatch settles
    await settle();
    h.abort(q);
    await settle();
    expect(q.sink.endings).toBe(1);
    expect(q.sink.error).toBeInstanceOf(RequestAbortedError);
    h.expectIdle();
  });

  test('an abort with another error (a deadline) ends a queued request as a timeout with that error', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    h.submit();
    const q = h.submit();
    const e = new UpstreamTimeoutError('a', 'total', 1);
    h.abort(q, e);
    await settle();
    expect(q.sink.error).toBe(e);
    expect(h.ended[0].outcome).toBe('timeout');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test('abortAll ends everything: queued at once, in flight once dispatch stops', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const inflight = h.submit();
    const queued = h.submit();
    h.scheduler.abortAll(new RequestAbortedError('shutdown'));
    await settle();
    expect(queued.sink.error?.message).toBe('shutdown');
    h.dispatcher.one().aborted();
    await settle();
    expect(inflight.sink.error?.message).toBe('shutdown');
    h.expectIdle();
  });
});

describe('queue timeout', () => {
  test('a request waiting longer than queue.maxWaitMs ends with QueueTimeoutError (504), on time, with no other event', async () => {
    const timeouts: string[] = [];
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxWaitMs = 1_000), observer: { timeout: (p) => timeouts.push(p) } });
    h.submit();
    const r = h.submit();
    await settle(999);
    expect(r.sink.endings).toBe(0);
    await settle(2);
    expect(r.sink.error).toBeInstanceOf(QueueTimeoutError);
    expect(r.sink.error?.status).toBe(504);
    expect(r.sink.error?.message).toMatch(/timed out after 10\d\d ms waiting for a free slot/);
    expect(timeouts).toEqual(['queue']);
    expect(h.ended[0]).toMatchObject({ outcome: 'timeout', errorCode: 'ERR_QUEUE_TIMEOUT' });
    h.dispatcher.one().ok();
    await settle();
    expect(h.dispatcher.calls).toHaveLength(1);
    h.expectIdle();
  });

  test('each waiter times out on its own deadline', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxWaitMs = 1_000) });
    h.submit();
    const first = h.submit();
    await settle(400);
    const second = h.submit({ priority: 'high' }); // served first, but times out later
    await settle(650);
    expect([first.sink.endings, second.sink.endings]).toEqual([1, 0]);
    await settle(400);
    expect(second.sink.error).toBeInstanceOf(QueueTimeoutError);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });
});

describe('exactly once, and slots always released', () => {
  test('a sink that throws does not take the scheduler down', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
      const bad = h.submit();
      bad.sink.throwOnEnd = true;
      const good = h.submit();
      h.dispatcher.one().ok();
      await settle();
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('sink exploded'));
      h.dispatcher.one().ok();
      await settle();
      expect(good.sink.ends).toHaveLength(1);
      h.expectIdle();
    } finally {
      warn.mockRestore();
    }
  });

  test('stop(): waiting and backing-off requests end with the error; in-flight ones finish; nothing is admitted after', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 }), nodeSpec('b', { slots: 1 })] });
    const backoff = h.submit();
    h.dispatcher.one().httpError(503);
    await settle();
    const inflight1 = h.submit();
    const inflight2 = h.submit();
    const queued = h.submit();
    expect([backoff.ctx.state, queued.ctx.state]).toEqual(['backoff', 'queued']);
    const err = new BackpressureError('the balancer is shutting down');
    h.scheduler.stop(err);
    expect(backoff.sink.error).toBe(err);
    expect(queued.sink.error).toBe(err);
    expect(() => h.scheduler.admitOrThrow()).toThrow(BackpressureError);
    const [c1, c2] = h.dispatcher.open();
    c1.ok();
    c2.httpError(503); // no retry once stopped
    await settle(1_000);
    expect(inflight1.sink.ends.length + inflight2.sink.ends.length).toBe(1);
    expect(h.dispatcher.calls).toHaveLength(3);
    h.expectIdle();
  });

  test('a request still in the ring when stop() is called ends at once with the stop error (not after the grace period)', async () => {
    const h = new Harness();
    const r = h.submit({}, { hold: true });
    const err = new BackpressureError('the balancer is shutting down');
    h.scheduler.stop(err);
    h.validate(r);
    await settle();
    expect(r.sink.error).toBe(err);
    expect(h.dispatcher.calls).toHaveLength(0);
    h.expectIdle();
  });

  test('a random mix of outcomes, aborts, timeouts and health changes always ends every request once and frees every slot', async () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const ends = new Map<number, number>();
    const observer: SchedulerObserver = { requestEnded: (e) => ends.set(e.requestId, (ends.get(e.requestId) ?? 0) + 1) };
    const h = new Harness({
      nodes: [nodeSpec('a', { slots: 2 }), nodeSpec('b', { slots: 3, perModel: { 'x:latest': 1 } }), nodeSpec('c', { slots: 1 })],
      strategy: 'least-in-flight',
      observer,
      config: (c) => {
        c.queue.maxWaitMs = 2_000;
        c.queue.maxDepth = 20;
        c.retry.maxRetries = 2;
      },
    });
    const checkBounds = () => {
      let total = 0;
      for (const n of h.scheduler.nodes.values()) {
        expect(n.inFlight).toBeLessThanOrEqual(n.maxConcurrent);
        total += n.inFlight;
      }
      expect(total).toBe(h.scheduler.slots.total());
      expect(total).toBeGreaterThanOrEqual(h.dispatcher.open().length);
    };
    for (let step = 0; step < 600; step++) {
      const action = rnd(10);
      const open = h.dispatcher.open();
      if (action < 3) {
        h.submit({ model: rnd(3) === 0 ? 'x' : 'm', priority: rnd(3) - 1, stream: rnd(2) === 0 });
      } else if (action < 7 && open.length > 0) {
        const call = open[rnd(open.length)];
        switch (rnd(9)) {
          case 0:
            call.httpError(503);
            break;
          case 1:
            call.httpError(400);
            break;
          case 2:
            call.fail({ refused: rnd(4) === 0 });
            break;
          case 3:
            call.stream('{"a":1}\n');
            call.fail();
            break;
          case 4:
            call.crash(new Error('boom'));
            break;
          case 5:
            call.aborted();
            break;
          default:
            call.ok();
        }
      } else if (action === 7) {
        const live = [...h.table.values()];
        if (live.length > 0) h.scheduler.post({ type: 'abort', requestId: live[rnd(live.length)].id, error: new RequestAbortedError() });
      } else if (action === 8) {
        const id = ['a', 'b', 'c'][rnd(3)];
        h.scheduler.post({ type: 'apply', label: 'health', fn: (s) => applyHealth(s, { nodeId: id, ok: true }, nextHealth, Date.now()) });
      }
      await settle(rnd(4) === 0 ? rnd(400) : 0);
      checkBounds();
    }
    // Let everything finish: answer whatever is still in flight until nothing is left.
    for (let i = 0; i < 200 && (h.table.size > 0 || h.dispatcher.open().length > 0); i++) {
      for (const c of h.dispatcher.open()) c.ok();
      for (const id of ['a', 'b', 'c']) {
        h.scheduler.post({ type: 'apply', label: 'health', fn: (s) => applyHealth(s, { nodeId: id, ok: true }, nextHealth, Date.now()) });
      }
      await settle(500);
    }
    expect(h.submitted.length).toBeGreaterThan(100);
    expect([...ends.values()].every((n) => n === 1)).toBe(true);
    h.expectIdle();
  });
});

describe('breaker trials and client errors', () => {
  test.each<[string, (c: import('./helpers').Call) => void]>([
    ['aborted', (c) => c.aborted()],
    ['answered with a 400', (c) => c.httpError(400)],
  ])('a request sent before the breaker opened and %s in half-open does not let a second trial in', async (how, end) => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    const old = h.submit(); // in flight while the breaker is still closed
    h.node('a').breaker.trip(Date.now());
    await settle(1_000);
    const trial = h.submit();
    const third = h.submit();
    expect(h.dispatcher.open().map((c) => c.job.requestId)).toEqual([old.ctx.id, trial.ctx.id]);
    if (how === 'aborted') h.abort(old);
    await settle();
    end(h.dispatcher.calls[0]);
    await settle(200);
    expect(third.ctx.state).toBe('queued'); // still one trial at a time (halfOpenRequests 1)
    h.dispatcher.calls[1].ok(); // the trial succeeds: closed
    await settle();
    expect(h.node('a').breaker.state).toBe('closed');
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });

  test.each<[string, number, string]>([
    ['400', 400, '{"error":"bad request"}'],
    ['404 model not found', 404, '{"error":"model \'m\' not found"}'],
  ])('a half-open trial answered with a %s does not leave the node shut out', async (_n, status, body) => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    h.node('a').breaker.trip(Date.now());
    await settle(1_000);
    h.submit();
    h.dispatcher.one().httpError(status, body);
    await settle();
    // The node answered, so it is up: the next request must be able to reach it.
    h.node('a').missingModels.clear();
    const next = h.submit();
    await settle(200);
    expect(h.dispatcher.calls.map((c) => c.job.requestId)).toContain(next.ctx.id);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
  });
});
