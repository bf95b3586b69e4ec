import type { BalancerMetrics, RequestOutcome } from './metrics';
import type { Outcome, SchedulerObserver } from './scheduler/observer';

const OUTCOMES: Record<Outcome, RequestOutcome> = {
  success: 'success',
  client_error: 'error',
  upstream_error: 'error',
  timeout: 'timeout',
  aborted: 'aborted',
  rejected: 'rejected',
};

/**
 * Turns what the scheduler reports into Prometheus metrics. Kept apart from the scheduler so that
 * it only reports, and from the metrics so that they only count.
 */
export function metricsObserver(m: BalancerMetrics): SchedulerObserver {
  const seenModels = new Set<string>();
  return {
    requestEnded: (e) => {
      m.recordRequest({
        model: e.model || 'unknown',
        node: e.nodeId || undefined,
        outcome: OUTCOMES[e.outcome],
        latencyMs: e.latencyMs,
        ttftMs: e.ttftMs > 0 ? e.ttftMs : undefined,
      });
      if (e.errorCode) m.recordError(e.errorCode);
      if (e.evalTokens > 0 && e.nodeId) m.recordTokens(e.nodeId, e.model, e.evalTokens);
    },
    coldLoad: (node, model) => m.recordColdLoad(node, model),
    retry: (node) => m.recordRetry(node),
    queueWait: (ms) => m.observeQueueWait(ms),
    queueChanged: (depths) => {
      for (const model of seenModels) if (!depths.has(model)) m.setQueueDepth(model, 0);
      for (const [model, depth] of depths) {
        seenModels.add(model);
        m.setQueueDepth(model, depth);
      }
    },
    rejected: (kind, detail) => {
      if (kind === 'backpressure') m.recordBackpressure();
      else if (kind === 'queue_full') m.recordQueueRejected('full');
      else if (kind === 'queue_timeout') m.recordQueueRejected('timeout');
      else if (kind === 'rate_limited') m.recordRateLimited((detail as 'global' | 'client' | 'node') ?? 'global');
    },
    timeout: (phase) => {
      if (phase !== 'queue') m.recordTimeout(phase);
    },
    nodeChanged: (node) => m.setNodeGauges(node),
    nodeRemoved: (id) => m.removeNode(id),
  };
}

/** Calls every observer in turn. */
export function combineObservers(...list: (SchedulerObserver | undefined)[]): SchedulerObserver {
  const obs = list.filter((o): o is SchedulerObserver => o !== undefined);
  const out: SchedulerObserver = {};
  const keys = new Set(obs.flatMap((o) => Object.keys(o) as (keyof SchedulerObserver)[]));
  for (const k of keys) {
    (out as Record<string, (...a: unknown[]) => void>)[k] = (...args: unknown[]) => {
      for (const o of obs) (o[k] as ((...a: unknown[]) => void) | undefined)?.(...args);
    };
  }
  return out;
}
