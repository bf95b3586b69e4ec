import type { EventHandler, EventView } from '@ollama-ring/disruptor';
import type { BalancerMetrics } from '../metrics';
import type { RequestOutcome, TimeoutPhase } from '../metrics-schema';
import type { LabelTable } from './label-table';
import type { SuspicionCause } from '../scheduler/observer';
import type { FallbackReason } from '../scheduler/hint-rules';
import { FallbackCode, OutcomeCode, OutcomeKind, type OutcomeSchema, PhaseCode, RejectionCode, SuspicionCode } from './outcome-record';

const REQUEST_OUTCOME: Record<OutcomeCode, RequestOutcome> = {
  [OutcomeCode.success]: 'success',
  [OutcomeCode.client_error]: 'error',
  [OutcomeCode.upstream_error]: 'error',
  [OutcomeCode.timeout]: 'timeout',
  [OutcomeCode.aborted]: 'aborted',
  [OutcomeCode.rejected]: 'rejected',
};

/**
 * The completion/metrics stage: the consumer of the outcome ring. It turns each OUTCOME record
 * into prom-client observations, off the scheduler's path: the scheduler only writes records, and
 * this stage runs after the scheduler's batch (a microtask later on the same thread).
 *
 * State gauges (node in-flight, health, breaker, resident models, queue depth) are not events:
 * they are read from a `PoolView` when metrics are scraped, which is the only time anyone sees them.
 */
export class MetricsStage implements EventHandler<OutcomeSchema> {
  /** Called when the stage's processor stops (the worker entry closes its scrape channel here). */
  onShutdown?: () => void;

  constructor(
    private readonly metrics: BalancerMetrics,
    private readonly labels: LabelTable,
  ) {}

  onEvent(e: EventView<OutcomeSchema>): void {
    const m = this.metrics;
    const name = (id: number) => this.labels.name(id);
    switch (e.kind as OutcomeKind) {
      case OutcomeKind.Ended: {
        const node = name(e.node);
        const model = name(e.model) || 'unknown';
        m.recordRequest({
          model,
          node: node || undefined,
          outcome: REQUEST_OUTCOME[e.detail as OutcomeCode],
          latencyMs: e.latencyMs,
          ttftMs: e.ttftMs > 0 ? e.ttftMs : undefined,
        });
        if (e.code >= 0) m.recordError(name(e.code));
        if (e.tokens > 0 && node) m.recordTokens(node, model, e.tokens);
        return;
      }
      case OutcomeKind.ColdLoad:
        return m.recordColdLoad(name(e.node), name(e.model));
      case OutcomeKind.FellBack:
        return m.recordFallback(name(e.model), name(e.code), FallbackCode[e.detail] as FallbackReason);
      case OutcomeKind.Retried:
        return m.recordRetry(name(e.node));
      case OutcomeKind.QueueWait:
        return m.observeQueueWait(e.latencyMs);
      case OutcomeKind.Rejected:
        return this.rejected(e.detail as RejectionCode, name(e.code));
      case OutcomeKind.Suspected:
        return m.recordSuspected(name(e.node), SuspicionCode[e.detail] as SuspicionCause);
      case OutcomeKind.TimedOut:
        if (e.detail !== PhaseCode.queue) m.recordTimeout(PhaseCode[e.detail] as TimeoutPhase);
        return;
    }
  }

  private rejected(kind: RejectionCode, limit: string): void {
    const m = this.metrics;
    if (kind === RejectionCode.backpressure) m.recordBackpressure();
    else if (kind === RejectionCode.queue_full) m.recordQueueRejected('full');
    else if (kind === RejectionCode.queue_timeout) m.recordQueueRejected('timeout');
    else if (kind === RejectionCode.rate_limited) m.recordRateLimited((limit as 'global' | 'client' | 'node') || 'global');
  }
}
