// The scheduler's inputs are data: a journal of one run, fed to a fresh scheduler, gives the same
// decisions (bindings, rejections, retries, endings) without any dispatch, timer or probe behind it.
import { RequestAbortedError } from '../../src/errors';
import { RequestContext } from '../../src/request-context';
import type { SchedulerJournal } from '../../src/scheduler/scheduler-deps';
import type { SchedulerEvent } from '../../src/scheduler/scheduler-events';
import { fakeClockForEachTest, Harness, type HarnessOpts, nodeSpec, RecordingSink, settle } from '../helpers';

fakeClockForEachTest();

type Entry = { at: number; event: SchedulerEvent } | { at: number; pass: true };

class Recorder implements SchedulerJournal {
  readonly entries: Entry[] = [];
  event(event: SchedulerEvent, at: number): void {
    this.entries.push({ at, event });
  }
  pass(at: number): void {
    this.entries.push({ at, pass: true });
  }
}

/** A seeded generator (mulberry32): the same run every time. */
function random(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const opts = (journal?: SchedulerJournal, now?: () => number): HarnessOpts => ({
  nodes: [nodeSpec('a', { slots: 2, models: ['m', 'x'] }), nodeSpec('b', { slots: 1, models: ['m'] }), nodeSpec('c', { slots: 1, models: ['x'] })],
  strategy: 'least-in-flight',
  config: (c) => {
    c.queue = { ...c.queue, maxDepth: 6, maxWaitMs: 1_500 };
    c.retry = { maxRetries: 2, initialBackoffMs: 50, maxBackoffMs: 400, backoffMultiplier: 2 };
  },
  journal,
  now,
});

/** What a run decided: where each request went, and how each ended. */
function decisions(h: Harness) {
  return {
    bindings: h.dispatcher.calls.map((c) => `${c.job.requestId}->${c.job.nodeId}`),
    endings: h.ended.map((e) => ({ id: e.requestId, node: e.nodeId, outcome: e.outcome, code: e.errorCode, retries: e.retries, queueMs: e.queueMs })),
  };
}

/** A random run: requests, every kind of upstream end, aborts, health results, node and strategy changes, time. */
async function liveRun(seed: number, journal: Recorder): Promise<Harness> {
  const h = new Harness(opts(journal));
  const rnd = random(seed);
  for (let step = 0; step < 300; step++) {
    const action = rnd(12);
    if (action < 4) {
      // Some carry the hints the scheduler applies itself: a fallback model, a latency budget.
      const hints = { ...(rnd(3) === 0 && { fallback_model: ['m', 'x'][rnd(2)] }), ...(rnd(4) === 0 && { max_latency: 50 + rnd(1_000) }) };
      // A quarter are batch lines, behind the interactive requests; three client keys share the queue.
      h.submit({ model: ['m', 'x', 'nope'][rnd(3)], priority: rnd(3), ...hints }, { clientKey: `k${rnd(3)}`, requestClass: rnd(4) === 0 ? 'batch' : 'interactive' });
    } else if (action < 8) {
      const open = h.dispatcher.open();
      if (open.length > 0) {
        const call = open[rnd(open.length)];
        const how = rnd(6);
        if (how === 0) call.httpError(503);
        else if (how === 1) call.fail({ refused: rnd(2) === 0 });
        else if (how === 2) {
          call.stream('{"response":"a","done":false}\n');
          call.fail();
        } else if (how === 3) call.httpError(400);
        else call.ok();
      }
    } else if (action === 8) {
      const live = [...h.table.values()];
      if (live.length > 0) h.scheduler.post({ type: 'request-aborted', requestId: live[rnd(live.length)].id, error: new RequestAbortedError() });
    } else if (action === 9) {
      h.control.healthChecked({ nodeId: ['a', 'b', 'c'][rnd(3)], ok: rnd(3) > 0, at: Date.now() });
    } else if (action === 10) {
      const id = ['a', 'b', 'c'][rnd(3)];
      void h.control.nodeAction(id, rnd(2) === 0 ? 'disable' : 'enable').catch(() => undefined);
    } else {
      void h.control.setStrategy(['least-in-flight', 'round-robin', 'first'][rnd(3)]);
    }
    await settle(rnd(4) === 0 ? rnd(600) : 0);
  }
  for (const id of ['a', 'b', 'c']) void h.control.nodeAction(id, 'enable');
  for (let i = 0; i < 100 && (h.table.size > 0 || h.dispatcher.open().length > 0); i++) {
    for (const c of h.dispatcher.open()) c.ok();
    for (const id of ['a', 'b', 'c']) h.control.healthChecked({ nodeId: id, ok: true, at: Date.now() });
    await settle(500);
  }
  h.expectIdle();
  return h;
}

/** Feeds a journal to a fresh scheduler, on the journal's clock, with the same requests in its table. */
function replay(live: Harness, journal: Recorder): Harness {
  jest.clearAllTimers(); // the replay's own timers never fire: the journal has every tick they posted
  let clock = 0;
  const h = new Harness(opts(undefined, () => clock));
  const created = new Set<number>();
  for (const entry of journal.entries) {
    clock = entry.at;
    if ('pass' in entry) {
      h.scheduler.pump();
      continue;
    }
    const evt = entry.event;
    if (evt.type === 'request-validated' && !created.has(evt.requestId)) {
      // The request's side-table entry, as the front made it: same id, route, hints, class, arrival, body.
      created.add(evt.requestId);
      const sent = live.submitted.find((s) => s.ctx.id === evt.requestId)!;
      const orig = sent.ctx;
      const bytes = Buffer.from(JSON.stringify(sent.body));
      h.scheduler.admitOrThrow();
      const off = h.arena.tryAllocCopy(bytes);
      const ctx = new RequestContext(orig.id, orig.route, off, bytes.length, orig.hints, orig.clientKey, new RecordingSink(), orig.arrivedAt);
      ctx.requestClass = orig.requestClass;
      h.table.add(ctx);
      h.submitted.push({ ctx, sink: ctx.sink as RecordingSink, body: sent.body });
    }
    h.scheduler.apply(evt);
  }
  return h;
}

test.each([1, 2, 3])('a recorded run (seed %i) replayed into a fresh scheduler makes the same decisions', async (seed) => {
  const journal = new Recorder();
  const live = await liveRun(seed, journal);
  const kinds = new Set(journal.entries.map((e) => ('pass' in e ? 'pass' : e.event.type)));
  // The run exercised what it claims to: every kind of input the scheduler has, but the
  // membership and reload commands that other tests cover.
  expect([...kinds].sort()).toEqual(
    expect.arrayContaining(['health-checked', 'node-commanded', 'pass', 'request-aborted', 'request-completed', 'request-validated', 'retry-due', 'strategy-set', 'timer-fired']),
  );
  const want = decisions(live);
  expect(want.endings.map((e) => e.outcome)).toEqual(expect.arrayContaining(['success', 'rejected', 'upstream_error', 'client_error', 'aborted']));
  expect(want.endings.some((e) => e.retries > 0)).toBe(true);
  expect(live.submitted.some((r) => r.ctx.fallbackFrom !== undefined)).toBe(true);

  const again = replay(live, journal);
  expect(decisions(again)).toEqual(want);
  expect(again.scheduler.liveCount()).toBe(0);
});
