// The scheduler's retries and failover before the first byte, and what counts against a node.
import { UpstreamError, UpstreamTimeoutError } from '../../src/errors';
import { fakeClockForEachTest, Harness, nodeSpec, settle } from '../helpers';

fakeClockForEachTest();

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

  test.each<[string, (c: import('../helpers').Call) => void]>([
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

  // queue.maxWaitMs bounds the request's whole life in the queue: a retry does not restart it.
  test.each<[string, number, number]>([
    ['waited 600 ms before its failed attempt: 400 ms left after it', 600, 400],
    ['waited 0 ms before: the whole 1 000 ms after', 0, 1_000],
  ])('queue deadline across a retry: %s', async (_n, firstWait, left) => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => (c.queue.maxWaitMs = 1_000) });
    const blocker = firstWait > 0 ? h.submit() : undefined;
    const r = h.submit();
    await settle(firstWait);
    if (blocker) {
      h.dispatcher.one().ok();
      await settle();
    }
    h.dispatcher.one().httpError(503, '{"error":"busy"}'); // r's attempt fails; backoff 100 ms
    await settle();
    const hog = h.submit(); // takes the only slot during r's backoff
    await settle(100);
    expect(r.ctx.state).toBe('queued');
    await settle(left - 100 - 1);
    expect(r.ctx.state).toBe('queued');
    await settle(2);
    expect(r.sink.error).toMatchObject({ status: 503, message: 'busy' }); // its last upstream error
    h.dispatcher.one().ok();
    await settle();
    expect(hog.sink.ends).toHaveLength(1);
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
