import { LeaseExpiredError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext, RequestTable } from '../request-context';
import { Cancel } from '../upstream/cancel';
import type { LeaseExpired, LeaseReleased, RequestCompleted } from './scheduler-events';

/** What leases need: the requests, and the completion step that frees a slot and judges an outcome. */
export interface LeaseDeps {
  readonly table: RequestTable;
  /** Applies the end of a bound request's exchange (the completion handler's `onCompletion`). */
  readonly complete: (evt: RequestCompleted) => void;
}

/** Leases held and taken back, for the pool view and the metrics. */
export interface LeaseCounts {
  /** Leases bound to a slot and not yet released. */
  readonly held: number;
  /** Leases whose slot was taken back at their TTL, since start. */
  readonly expired: number;
}

/**
 * Leases: requests that the application sends to the node itself (seed 001's `get_instance`,
 * `record_success`, `record_failure`). A lease is admitted, queued and bound like any request (the
 * same slots, limits, queue bounds and strategy), and only its start and end differ: bound, it
 * hands the node to its holder instead of dispatching; its release is a completion with the
 * outcome the application reports, so the breaker, health and estimates learn from it as from a
 * proxied request. A lease held past its TTL is taken back here, counted, and judged neither way.
 */
export class Leases {
  private held = 0;
  private expired = 0;

  constructor(private readonly d: LeaseDeps) {}

  /** Hands the slot just bound on `node` to the lease's holder. */
  grant(ctx: RequestContext, node: PoolNode): void {
    // The application is calling the node now: nothing moves the lease elsewhere or retries it.
    ctx.started = true;
    const cancel = new Cancel();
    ctx.upstreamAbort = cancel;
    this.held++;
    try {
      ctx.lease!.granted({ id: node.id, address: node.address }, ctx.facts!.rawModel, cancel, ctx.queueMs);
    } catch (e) {
      // A holder that throws must not take the scheduler down; its lease still ends by its TTL.
      process.emitWarning(`lease holder threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  onReleased({ requestId, nodeId, outcome }: LeaseReleased): void {
    if (!this.holding(requestId)) return;
    this.held--;
    this.d.complete({ type: 'request-completed', requestId, nodeId, outcome });
  }

  onExpired({ requestId, nodeId, ttlMs }: LeaseExpired): void {
    const ctx = this.holding(requestId);
    if (!ctx) return;
    this.held--;
    this.expired++;
    // Said to the holder (its request ends with it) and to the metrics (its error code); not a
    // failure of the node: the application may simply have forgotten to release it.
    ctx.abortReason = new LeaseExpiredError(nodeId, ttlMs);
    this.d.complete({ type: 'request-completed', requestId, nodeId, outcome: { kind: 'aborted', started: true, latencyMs: ttlMs } });
  }

  counts(): LeaseCounts {
    return { held: this.held, expired: this.expired };
  }

  /** The lease `requestId` while it holds a slot; undefined once it has ended (a second release). */
  private holding(requestId: number): RequestContext | undefined {
    const ctx = this.d.table.get(requestId);
    return ctx?.lease !== undefined && ctx.state === 'dispatching' ? ctx : undefined;
  }
}
