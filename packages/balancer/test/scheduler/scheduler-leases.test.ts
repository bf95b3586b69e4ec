// Leases inside the scheduler: every step of one is an event it applies (requested, released,
// expired), the slot table counts it with proxied requests, and nothing is dispatched for it.
import { Route } from '@ollama-ring/protocol';
import { LeaseExpiredError, RequestAbortedError, UpstreamError } from '../../src/errors';
import type { GrantedNode, LeaseGrantee } from '../../src/scheduler/lease-grantee';
import type { SchedulerJournal } from '../../src/scheduler/scheduler-deps';
import type { SchedulerEventType } from '../../src/scheduler/scheduler-events';
import { validateRequest } from '../../src/stages/validate-request';
import type { Cancel } from '../../src/upstream/cancel';
import { fakeClockForEachTest, Harness, nodeSpec, settle, type Submitted } from '../helpers';

fakeClockForEachTest();

class Grantee implements LeaseGrantee {
  grants: { node: GrantedNode; model: string; cancel: Cancel; queueMs: number }[] = [];
  granted(node: GrantedNode, model: string, cancel: Cancel, queueMs: number): void {
    this.grants.push({ node, model, cancel, queueMs });
  }
}

class Types implements SchedulerJournal {
  readonly seen: SchedulerEventType[] = [];
  event(e: { type: SchedulerEventType }): void {
    this.seen.push(e.type);
  }
  pass(): void {}
}

/** Admits a lease for model 'm' as `pipeline.select` does: its context in the table, then the event. */
function lease(h: Harness, hints = {}): Submitted & { grantee: Grantee } {
  const s = h.submit({ model: 'm' }, { hold: true, hints });
  const grantee = new Grantee();
  s.ctx.lease = grantee;
  const bytes = h.arena.view(s.ctx.bodyOffset, s.ctx.bodyLength);
  const verdict = validateRequest(Route.Generate, bytes, { maxPromptLength: 1000, allowedModels: [] });
  if ('status' in verdict) throw new Error(verdict.message);
  h.scheduler.post({ type: 'lease-requested', requestId: s.ctx.id, verdict });
  return { ...s, grantee };
}

describe('leases in the scheduler', () => {
  test('bound like a request, handed over instead of dispatched, and released by an event that frees the slot and teaches the estimates', async () => {
    const journal = new Types();
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], journal });
    const l = lease(h);
    await settle();
    expect(l.grantee.grants.map((g) => [g.node.id, g.node.address.origin, g.model])).toEqual([['a', 'http://a:11434', 'm']]);
    expect(h.dispatcher.calls).toEqual([]);
    expect(h.node('a').inFlight).toBe(1);
    expect(h.view().leases).toEqual({ held: 1, expired: 0 });

    // The one slot is the lease's: a request waits for it.
    const r = h.submit();
    await settle();
    expect(h.scheduler.queue.size).toBe(1);

    h.scheduler.post({ type: 'lease-released', requestId: l.ctx.id, nodeId: 'a', outcome: { kind: 'ok', status: 200, started: true, ttftMs: 80, latencyMs: 80 } });
    // A second release of the same lease is ignored (the holder sends one; this one comes late).
    h.scheduler.post({ type: 'lease-released', requestId: l.ctx.id, nodeId: 'a', outcome: { kind: 'aborted', started: true, latencyMs: 1 } });
    await settle();
    expect(l.sink.endings).toBe(1);
    expect(h.ended[0]).toMatchObject({ requestId: l.ctx.id, nodeId: 'a', outcome: 'success' });
    expect(h.estimates.samples('a')).toBe(1);
    expect(h.dispatcher.one().job.requestId).toBe(r.ctx.id);
    h.dispatcher.one().ok();
    await settle();
    h.expectIdle();
    expect(journal.seen).toEqual(expect.arrayContaining(['lease-requested', 'lease-released', 'request-completed']));
  });

  test('a failure counts against the node; no retry elsewhere (the application made the call)', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 2 }), nodeSpec('b', { slots: 2 })] });
    for (let i = 0; i < 3; i++) {
      const l = lease(h);
      await settle();
      const node = l.grantee.grants[0].node.id;
      h.scheduler.post({
        type: 'lease-released',
        requestId: l.ctx.id,
        nodeId: node,
        outcome: { kind: 'failed', error: new UpstreamError(node, 0, 'socket hang up'), started: true, refused: false, latencyMs: 5, ttftMs: 0 },
      });
      await settle();
      expect(l.sink.error).toBeInstanceOf(UpstreamError);
    }
    // The 'first' strategy sends all three to a: its breaker opens at the third failure.
    expect(h.node('a').breaker.state).toBe('open');
    expect(h.ended.map((e) => e.retries)).toEqual([0, 0, 0]);
    h.expectIdle();
  });

  test('expired: the slot is taken back and counted, the holder told why, the node not blamed', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const l = lease(h);
    await settle();
    h.scheduler.post({ type: 'lease-expired', requestId: l.ctx.id, nodeId: 'a', ttlMs: 300 });
    await settle();
    expect(l.sink.error).toBeInstanceOf(LeaseExpiredError);
    expect(h.ended[0]).toMatchObject({ outcome: 'aborted', errorCode: 'ERR_LEASE_EXPIRED' });
    expect(h.view().leases).toEqual({ held: 0, expired: 1 });
    expect(h.node('a').breaker.state).toBe('closed');
    expect(h.node('a').failedRequests).toBe(0);
    h.expectIdle();
  });

  test('an abort while queued ends it there; an abort once granted fires its cancel, and its release then ends it as aborted', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const first = lease(h);
    const second = lease(h);
    await settle();
    expect(second.grantee.grants).toEqual([]);
    h.abort(second);
    await settle();
    expect(second.sink.error).toBeInstanceOf(RequestAbortedError);

    h.abort(first);
    await settle();
    const cancel = first.grantee.grants[0].cancel;
    expect(cancel.aborted).toBe(true);
    h.scheduler.post({ type: 'lease-released', requestId: first.ctx.id, nodeId: 'a', outcome: { kind: 'aborted', started: true, latencyMs: 3 } });
    await settle();
    expect(first.sink.error).toBeInstanceOf(RequestAbortedError);
    h.expectIdle();
  });
});
