import { type BalancerError, RequestAbortedError, UpstreamTimeoutError } from '../errors';
import type { RequestContext, RequestTable } from '../request-context';
import { type CompletionVerdict, judge } from '../stages/completion';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { PoolNode } from '../nodes/node';
import { REAL_LOAD_MS } from './estimates';
import type { SchedulerObserver, SuspicionCause } from './observer';
import type { FinishRequest, PoolState, PostEvent } from './pool-state';
import { backoffMs } from './retry-policy';
import type { RequestAborted, RequestCompleted, RetryDue } from './scheduler-events';
import type { Preemption } from './preemption';
import type { Suspicion } from './suspicion';

/** What completions need: the pool's state and the requests, and the scheduler's steps they call. */
export interface CompletionDeps {
  readonly pool: Pick<PoolState, 'nodes' | 'queue' | 'slots' | 'estimates' | 'config' | 'now'>;
  readonly table: RequestTable;
  readonly observer?: SchedulerObserver;
  readonly finish: FinishRequest;
  /** Puts a request back in the wait queue (after its retry backoff). */
  readonly enqueue: (ctx: RequestContext, now: number) => void;
  /** Forgets a removed node once it has nothing in flight. */
  readonly dropNode: (node: PoolNode) => void;
  /** Told of every dispatch's end, and of missed deadlines (the node may hang). */
  readonly suspicion: Pick<Suspicion, 'completed' | 'missed'>;
  /** Told when the dispatch of a batch line it cut has ended. */
  readonly preemption: Pick<Preemption, 'settled'>;
  readonly post: PostEvent;
  readonly isStopped: () => boolean;
}

/**
 * Applies the end of a dispatch and client aborts: frees the slot, updates the node's breaker,
 * health and learned estimates, and then either ends the request or sends it back to the queue
 * for a retry elsewhere (only before its first byte, with backoff, up to `retry.maxRetries`).
 */
export class CompletionHandler {
  constructor(private readonly d: CompletionDeps) {}

  onCompletion({ requestId, nodeId, outcome }: RequestCompleted): void {
    const { pool, observer } = this.d;
    const now = pool.now();
    const node = pool.nodes.get(nodeId);
    if (node) pool.slots.release(node, requestId, now);
    // A dispatching request stays in the table until this event, so this is only a safeguard: the
    // slot is freed above whatever happens next.
    const ctx = this.d.table.get(requestId);
    if (!ctx) {
      process.emitWarning(`completion of request ${requestId}, which had already ended`);
      return;
    }
    ctx.upstreamAbort = undefined;
    // The outcome says whether bytes reached the client (the sink's onStart set this already): the
    // event alone decides, so a replay without a live dispatch makes the same retry decisions.
    if (outcome.started) ctx.started = true;
    const cut = ctx.preempting;
    if (cut) {
      ctx.preempting = false;
      this.d.preemption.settled(nodeId);
    }
    const moved = ctx.rescue !== undefined && outcome.kind === 'aborted';
    const v = moved ? rescued(ctx.rescue!, outcome.started) : judge(nodeId, outcome);
    ctx.rescue = undefined;
    this.d.suspicion.completed(ctx, nodeId, v.outcome === 'success');
    const missed = missCause(outcome, ctx);
    if (node) {
      // Neither success nor failure (an abort, a 4xx) gives back a trial place, if it held one.
      const neutral = outcome.kind === 'aborted' || (outcome.kind === 'http-error' && !v.nodeFailure);
      if (neutral) {
        if (ctx.trial) node.breaker.onTrialAbandoned();
      } else if (v.nodeFailure) {
        node.failedRequests++;
        node.lastError = v.error?.message ?? '';
        pool.estimates.recordFailure(nodeId);
        if (v.nodeDown) {
          // A refused connection is proof enough: no need to wait for the next health check.
          if (ctx.trial) node.breaker.onTrialAbandoned();
          node.breaker.trip(now);
          node.health = 'UNHEALTHY';
          node.loaded.clear();
        } else node.breaker.onFailure(now, ctx.trial);
      } else node.breaker.onSuccess(ctx.trial);
      ctx.trial = false;
      if (v.error instanceof UpstreamTimeoutError) observer?.timeout?.(v.error.phase);
      if (missed) this.d.suspicion.missed(node, missed, now);
      if (outcome.kind === 'ok' && !v.nodeFailure) {
        // Not for an in-band error: it is a failure, already recorded above, and no sample of speed.
        const hotStream = (ctx.facts?.stream === true || ctx.assembled) && !ctx.cold;
        pool.estimates.recordCompletion(nodeId, ctx.model, outcome.final, { ttftMs: outcome.ttftMs, latencyMs: outcome.latencyMs, hotStream });
      }
      this.learnResidency(node, ctx, outcome, now);
      if (node.draining && node.inFlight === 0 && node.removed) this.d.dropNode(node);
      else observer?.nodeChanged?.(node);
    }
    if (ctx.state === 'done') return;
    if (ctx.abortReason) {
      this.d.finish(ctx, 'aborted', ctx.abortReason, outcome);
      return;
    }
    if (cut && outcome.kind === 'aborted' && !ctx.started && !this.d.isStopped()) {
      // Cut for an interactive request: back to the head of its key's line, its wait bound afresh.
      ctx.state = 'backoff';
      ctx.nodeId = undefined;
      ctx.queuedAt = now;
      this.d.enqueue(ctx, now);
      return;
    }
    if (v.modelMissing || v.routeMissing) {
      if (v.modelMissing) node?.missingModels.add(ctx.model);
      // Only worth another try if some other node still claims the model; for a route the node
      // lacks, one it has not tried yet (every node lacking it answers once, then the 404 stands).
      const elsewhere = [...pool.nodes.values()].some((n) => n.id !== nodeId && !n.removed && n.hasModel(ctx.model) && !(v.routeMissing && ctx.excluded.has(n.id)));
      if (!elsewhere) {
        this.d.finish(ctx, v.outcome, v.error, outcome);
        return;
      }
    }
    if (v.retryable && !ctx.started && ctx.retries < pool.config.retry.maxRetries && !this.d.isStopped()) {
      // A missed deadline or a move off a hung node has already waited: retry at once, elsewhere.
      this.retryLater(ctx, nodeId, v.error, moved || missed !== undefined);
      return;
    }
    this.d.finish(ctx, v.outcome, v.error, outcome);
  }

  /**
   * A finished request used its model now (Ollama's LRU order), which is ready by now whatever its
   * load was expected to take. One bound as hot that still reports
   * a real load (as the estimates count one) found its model evicted: the node holds fewer models
   * than we assumed, and the model was not resident after all until this load.
   */
  private learnResidency(node: PoolNode, ctx: RequestContext, outcome: DispatchOutcome, now: number): void {
    const believed = node.residency.hotBound.get(ctx.id);
    node.residency.hotBound.delete(ctx.id);
    if (outcome.kind !== 'ok') return;
    node.touchModel(ctx.model, now);
    node.modelReady(ctx.model, now);
    const loadMs = outcome.final?.loadMs ?? 0;
    if (believed !== undefined && loadMs >= REAL_LOAD_MS) node.residency.noteUnexpectedLoad(believed, node.spec.maxLoadedModels);
  }

  /** Backs off (unless `now`), then queues the request again, avoiding `nodeId`. */
  private retryLater(ctx: RequestContext, nodeId: string, error: BalancerError | undefined, now = false): void {
    ctx.retries++;
    ctx.excluded.add(nodeId);
    ctx.lastError = error;
    this.d.observer?.retry?.(nodeId, ctx.id, error?.message ?? 'retry');
    ctx.trace?.retried(nodeId, error?.message ?? 'retry');
    ctx.state = 'backoff';
    ctx.nodeId = undefined;
    const requestId = ctx.id;
    if (now) {
      this.d.enqueue(ctx, this.d.pool.now());
      return;
    }
    ctx.backoffTimer = setTimeout(
      () => {
        ctx.backoffTimer = undefined;
        this.d.post({ type: 'retry-due', requestId });
      },
      backoffMs(this.d.pool.config.retry, ctx.retries),
    );
  }

  /** The backoff is over: back to the queue, unless it ended meanwhile (an abort, a shutdown). */
  onRetryDue({ requestId }: RetryDue): void {
    const ctx = this.d.table.get(requestId);
    if (ctx?.state === 'backoff') this.d.enqueue(ctx, this.d.pool.now());
  }

  onAbort({ requestId, error }: RequestAborted): void {
    const { pool, observer } = this.d;
    const ctx = this.d.table.get(requestId);
    if (!ctx || ctx.state === 'done') return;
    switch (ctx.state) {
      case 'dispatching':
        // The completion event that follows frees the slot; the request ends there.
        ctx.abortReason = error;
        ctx.upstreamAbort?.abort(error);
        return;
      case 'queued':
        pool.queue.remove(requestId);
        observer?.queueChanged?.(pool.queue.depthByModel());
        break;
      case 'backoff':
        clearTimeout(ctx.backoffTimer);
        break;
      default:
        break;
    }
    this.d.finish(ctx, error instanceof RequestAbortedError ? 'aborted' : 'timeout', error);
  }
}

/** The verdict on a dispatch the scheduler cancelled to move its request off a node found hung. */
function rescued(error: BalancerError, started: boolean): CompletionVerdict {
  // Not a failure of the node: its failed probe already took it down.
  return { nodeFailure: false, nodeDown: false, retryable: !started, outcome: 'upstream_error', error };
}

/**
 * Which learned deadline an outcome missed (a sign the node hangs), if any. A fixed timeout, or a
 * first-byte deadline cut short by the request's own remaining time, says nothing new of the node.
 */
function missCause(outcome: DispatchOutcome, ctx: RequestContext): SuspicionCause | undefined {
  if (outcome.kind !== 'failed' || !(outcome.error instanceof UpstreamTimeoutError)) return undefined;
  switch (outcome.error.phase) {
    case 'first-byte':
      return ctx.learnedFirstByte ? 'first-byte' : undefined;
    case 'idle':
      return ctx.learnedStall ? 'stall' : undefined;
    case 'connect':
      return 'connect';
    default:
      return undefined;
  }
}
