// The scheduler's queue timeouts, stop(), exactly-once endings, and breaker trials.
import { BackpressureError, QueueTimeoutError, RequestAbortedError } from '../../src/errors';
import type { SchedulerObserver } from '../../src/scheduler/observer';
import { fakeClockForEachTest, Harness, nodeSpec, settle } from '../helpers';

fakeClockForEachTest();

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
    h.shutdown(err);
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
    h.shutdown(err);
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
        if (live.length > 0) h.scheduler.post({ type: 'request-aborted', requestId: live[rnd(live.length)].id, error: new RequestAbortedError() });
      } else if (action === 8) {
        const id = ['a', 'b', 'c'][rnd(3)];
        h.scheduler.post({ type: 'health-checked', nodeId: id, ok: true, at: Date.now() });
      }
      await settle(rnd(4) === 0 ? rnd(400) : 0);
      checkBounds();
    }
    // Let everything finish: answer whatever is still in flight until nothing is left.
    for (let i = 0; i < 200 && (h.table.size > 0 || h.dispatcher.open().length > 0); i++) {
      for (const c of h.dispatcher.open()) c.ok();
      for (const id of ['a', 'b', 'c']) {
        h.scheduler.post({ type: 'health-checked', nodeId: id, ok: true, at: Date.now() });
      }
      await settle(500);
    }
    expect(h.submitted.length).toBeGreaterThan(100);
    expect([...ends.values()].every((n) => n === 1)).toBe(true);
    h.expectIdle();
  });
});

describe('breaker trials and client errors', () => {
  test.each<[string, (c: import('../helpers').Call) => void]>([
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

  // The race: trial A is in flight when an older request fails, re-opening the breaker; after the
  // next recovery the node went half-open with its trial count reset, so a second trial went out
  // beside A, and A's later abort freed a place it no longer held: a third. At most one at a time.
  test.each<[string, (c: import('../helpers').Call) => void]>([
    ['aborted', (c) => c.aborted()],
    ['answered with a 400', (c) => c.httpError(400)],
    ['succeeds', (c) => c.ok()],
  ])('a trial still in flight across a re-open keeps the next half-open episode to one trial; it then %s', async (_how, endA) => {
    const h = new Harness({ nodes: [nodeSpec('a')] });
    const trialsInFlight = () => h.dispatcher.open().filter((c) => h.table.get(c.job.requestId)?.trial).length;
    h.submit(); // bound while closed: not a trial
    h.node('a').breaker.trip(Date.now());
    await settle(1_000);
    const a = h.submit(); // the first episode's trial
    expect(a.ctx.trial).toBe(true);
    h.dispatcher.calls[0].httpError(503); // the old request fails: half-open → open
    await settle();
    expect(h.node('a').breaker.state).toBe('open');
    const others = [h.submit(), h.submit(), h.submit()];
    await settle(1_500); // recovery has passed: half-open again
    expect(trialsInFlight()).toBe(1); // A alone, not A and a new one
    endA(h.dispatcher.open().find((c) => c.job.requestId === a.ctx.id)!);
    await settle(200);
    expect(trialsInFlight()).toBeLessThanOrEqual(1);
    for (let i = 0; i < 10 && h.dispatcher.open().length > 0; i++) {
      expect(trialsInFlight()).toBeLessThanOrEqual(1);
      h.dispatcher.open()[0].ok();
      await settle(200);
    }
    expect(others.map((o) => o.sink.endings)).toEqual([1, 1, 1]);
    expect(h.node('a').breaker.state).toBe('closed');
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
