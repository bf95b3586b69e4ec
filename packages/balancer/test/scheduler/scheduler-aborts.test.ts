// The scheduler and client aborts, in every state a request can be in.
import { RequestAbortedError, UpstreamTimeoutError } from '../../src/errors';
import { fakeClockForEachTest, Harness, nodeSpec, RecordingSink, settle } from '../helpers';

fakeClockForEachTest();

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
    h.abortAll(new RequestAbortedError('shutdown'));
    await settle();
    expect(queued.sink.error?.message).toBe('shutdown');
    h.dispatcher.one().aborted();
    await settle();
    expect(inflight.sink.error?.message).toBe('shutdown');
    h.expectIdle();
  });
});
