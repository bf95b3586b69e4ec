import { type BalancerError, RequestAbortedError, UpstreamTimeoutError } from '../errors';
import type { RequestContext } from '../request-context';
import { judge } from '../stages/completion';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { PoolNode } from '../nodes/node';
import { REAL_LOAD_MS } from './estimates';
import { backoffMs } from './retry-policy';
import type { Scheduler } from './scheduler';

/**
 * Applies the end of a dispatch and client aborts: frees the slot, updates the node's breaker,
 * health and learned estimates, and then either ends the request or sends it back to the queue
 * for a retry elsewhere (only before its first byte, with backoff, up to `retry.maxRetries`).
 */
export class CompletionHandler {
  constructor(private readonly s: Scheduler) {}

  onCompletion(ctx: RequestContext, nodeId: string, outcome: DispatchOutcome): void {
    const s = this.s;
    const now = s.now();
    const node = s.nodes.get(nodeId);
    if (node) s.slots.release(node, ctx.id);
    ctx.upstreamAbort = undefined;
    const v = judge(nodeId, outcome);
    if (node) {
      // Neither success nor failure (an abort, a 4xx) gives back a trial place, if it held one.
      const neutral = outcome.kind === 'aborted' || (outcome.kind === 'http-error' && !v.nodeFailure);
      if (neutral) {
        if (ctx.trial) node.breaker.onTrialAbandoned();
      } else if (v.nodeFailure) {
        node.failedRequests++;
        node.lastError = v.error?.message ?? '';
        s.estimates.recordFailure(nodeId);
        if (v.nodeDown) {
          // A refused connection is proof enough: no need to wait for the next health check.
          if (ctx.trial) node.breaker.onTrialAbandoned();
          node.breaker.trip(now);
          node.health = 'UNHEALTHY';
          node.loaded.clear();
        } else node.breaker.onFailure(now, ctx.trial);
      } else node.breaker.onSuccess(ctx.trial);
      ctx.trial = false;
      if (v.error instanceof UpstreamTimeoutError) s.deps.observer?.timeout?.(v.error.phase);
      if (outcome.kind === 'ok' && !v.nodeFailure) {
        // Not for an in-band error: it is a failure, already recorded above, and no sample of speed.
        s.estimates.recordCompletion(nodeId, ctx.model, outcome.final, { ttftMs: outcome.ttftMs, latencyMs: outcome.latencyMs });
      }
      this.learnResidency(node, ctx, outcome, now);
      if (node.draining && node.inFlight === 0 && node.removed) s.dropNode(node);
      else s.deps.observer?.nodeChanged?.(node);
    }
    if (ctx.state === 'done') return;
    if (ctx.abortReason) {
      s.finish(ctx, 'aborted', ctx.abortReason, outcome);
      return;
    }
    if (v.modelMissing) {
      node?.missingModels.add(ctx.model);
      // Only worth another try if some other node still claims the model.
      const elsewhere = [...s.nodes.values()].some((n) => n.id !== nodeId && !n.removed && n.hasModel(ctx.model));
      if (!elsewhere) {
        s.finish(ctx, v.outcome, v.error, outcome);
        return;
      }
    }
    if (v.retryable && !ctx.started && ctx.retries < s.config.retry.maxRetries && !s.isStopped()) {
      this.retryLater(ctx, nodeId, v.error);
      return;
    }
    s.finish(ctx, v.outcome, v.error, outcome);
  }

  /**
   * A finished request used its model now (Ollama's LRU order). One bound as hot that still reports
   * a real load (as the estimates count one) found its model evicted: the node holds fewer models
   * than we assumed, and the model was not resident after all until this load.
   */
  private learnResidency(node: PoolNode, ctx: RequestContext, outcome: DispatchOutcome, now: number): void {
    const believed = node.residency.hotBound.get(ctx.id);
    node.residency.hotBound.delete(ctx.id);
    if (outcome.kind !== 'ok') return;
    node.touchModel(ctx.model, now);
    const loadMs = outcome.final?.loadMs ?? 0;
    if (believed !== undefined && loadMs >= REAL_LOAD_MS) node.residency.noteUnexpectedLoad(believed, node.spec.maxLoadedModels);
  }

  /** Backs off, then queues the request again, avoiding `nodeId`. */
  private retryLater(ctx: RequestContext, nodeId: string, error: BalancerError | undefined): void {
    const s = this.s;
    ctx.retries++;
    ctx.excluded.add(nodeId);
    ctx.lastError = error;
    s.deps.observer?.retry?.(nodeId, ctx.id, error?.message ?? 'retry');
    ctx.state = 'backoff';
    ctx.nodeId = undefined;
    ctx.backoffTimer = setTimeout(() => {
      ctx.backoffTimer = undefined;
      s.post({
        type: 'apply',
        label: 'retry',
        fn: (sch) => {
          if (ctx.state === 'backoff') sch.admission.enqueue(ctx, sch.now());
        },
      });
    }, backoffMs(s.config.retry, ctx.retries));
  }

  onAbort(requestId: number, error: BalancerError): void {
    const s = this.s;
    const ctx = s.deps.table.get(requestId);
    if (!ctx || ctx.state === 'done') return;
    switch (ctx.state) {
      case 'dispatching':
        // The completion event that follows frees the slot; the request ends there.
        ctx.abortReason = error;
        ctx.upstreamAbort?.abort(error);
        return;
      case 'queued':
        s.queue.remove(requestId);
        s.deps.observer?.queueChanged?.(s.queue.depthByModel());
        break;
      case 'backoff':
        clearTimeout(ctx.backoffTimer);
        break;
      default:
        break;
    }
    s.finish(ctx, error instanceof RequestAbortedError ? 'aborted' : 'timeout', error);
  }
}
