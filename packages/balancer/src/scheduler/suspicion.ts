import { UpstreamError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext, RequestTable } from '../request-context';
import type { SchedulerObserver, SuspicionCause } from './observer';
import type { PoolState } from './pool-state';
import type { HealthChecked } from './scheduler-events';

/** How often dispatched non-streamed requests are checked for being overdue. */
export const OVERDUE_SWEEP_MS = 250;

/** What suspicion needs: the nodes and the clock, the live requests, and the probe and timer ports. */
export interface SuspicionDeps {
  readonly pool: Pick<PoolState, 'nodes' | 'now'>;
  readonly table: RequestTable;
  readonly observer?: SchedulerObserver;
  /**
   * Probes a node at once with the failover probe deadline; its result comes back as a
   * `health-checked` event with `suspect` set. Absent (a replay, a bare scheduler): nothing is probed.
   */
  readonly probe?: (nodeId: string) => void;
  /** Posts an `overdue` timer event in `ms` (once, however often it is asked before then). */
  readonly armSweep: (ms: number) => void;
}

/**
 * What the scheduler does about a node that may be hung, so that it is left behind in well under a
 * second rather than after the fixed timeouts and several failed health checks:
 *
 * - a missed learned deadline (a stream's first byte, a stall, a connect) takes the node out of
 *   rotation at once (its breaker opens) and probes it;
 * - a non-streamed answer overdue by its expected time only probes the node (a long answer is not a
 *   hang, and cancelling it would waste the work done);
 * - a probe that fails marks the node down and moves its requests that have sent nothing yet to
 *   other nodes (their dispatch is cancelled and they are retried); one that answers lets the
 *   breaker's half-open trials bring the node back, at once after one miss, after the breaker's
 *   recovery time after two in a row.
 */
export class Suspicion {
  /** Dispatched non-streamed requests with a finite `overdueAt`. */
  private readonly watched = new Set<RequestContext>();
  /** Deadlines each node has missed since its last success. */
  private readonly streaks = new Map<string, number>();

  constructor(private readonly d: SuspicionDeps) {}

  /** A request was dispatched; one with an overdue time is watched until its completion. */
  dispatched(ctx: RequestContext): void {
    if (ctx.overdueAt === Infinity) return;
    this.watched.add(ctx);
    this.d.armSweep(OVERDUE_SWEEP_MS);
  }

  /** A dispatch on `nodeId` ended; `ok`: in success, which ends the node's streak of misses. */
  completed(ctx: RequestContext, nodeId: string, ok: boolean): void {
    if (this.watched.size > 0) this.watched.delete(ctx);
    ctx.overdueAt = Infinity;
    if (ok && this.streaks.size > 0) this.streaks.delete(nodeId);
  }

  /**
   * A request on `node` missed a deadline: out of rotation now, and probed. (The node keeps the
   * models we believe it holds: forgetting one would make its next request cold, and a cold request
   * with no load learned gets the fixed first-byte timeout, a minute by default, on a node that may
   * be hung.)
   */
  missed(node: PoolNode, cause: SuspicionCause, now: number): void {
    this.streaks.set(node.id, (this.streaks.get(node.id) ?? 0) + 1);
    node.breaker.trip(now);
    this.d.observer?.suspected?.(node.id, cause);
    this.d.probe?.(node.id);
  }

  /** Probes the nodes of watched requests that are overdue; re-arms while any are watched. */
  sweep(now: number): void {
    const probed = new Set<string>();
    for (const ctx of this.watched) {
      if (ctx.state !== 'dispatching' || ctx.nodeId === undefined) {
        this.watched.delete(ctx);
        continue;
      }
      if (ctx.overdueAt > now) continue;
      this.watched.delete(ctx);
      ctx.overdueAt = Infinity;
      if (probed.has(ctx.nodeId)) continue;
      probed.add(ctx.nodeId);
      this.d.observer?.suspected?.(ctx.nodeId, 'overdue');
      this.d.probe?.(ctx.nodeId);
    }
    if (this.watched.size > 0) this.d.armSweep(OVERDUE_SWEEP_MS);
  }

  /**
   * The probe of a suspected node came back. One that answers after a single miss lets half-open
   * trials bring the node back now (a one-off slow answer); after a second miss in a row the node
   * waits out the breaker's recovery time (it answers probes but not requests: a hung runner). One
   * that fails takes the node down and moves its requests that have sent nothing yet.
   */
  probed(evt: HealthChecked): void {
    const node = this.d.pool.nodes.get(evt.nodeId);
    if (!node) return;
    if (evt.ok) {
      if ((this.streaks.get(node.id) ?? 0) <= 1 && node.breaker.state === 'open') node.breaker.allowTrials();
      return;
    }
    node.health = 'UNHEALTHY';
    node.breaker.trip(evt.at);
    const error = new UpstreamError(node.id, 0, `node ${node.id} did not answer its probe (${evt.error ?? 'no answer'}); moved to another node`);
    for (const ctx of this.d.table.values()) {
      if (ctx.state !== 'dispatching' || ctx.nodeId !== node.id || ctx.started || ctx.abortReason || ctx.rescue) continue;
      ctx.rescue = error;
      ctx.upstreamAbort?.abort(error);
    }
  }
}
