import { Disruptor, type WaitStrategyKind } from '@ollama-ring/disruptor';
import type { BalancerMetrics } from '../metrics';
import { LabelTable } from './label-table';
import { MetricsStage } from './metrics-stage';
import { OutcomePublisher } from './outcome-publisher';
import { type OutcomeSchema, outcomeLayout } from './outcome-record';

/**
 * The outcome ring: the scheduler publishes (through {@link OutcomePublisher}, its observer) and the
 * completion/metrics stage consumes. Inline on the main thread, as a batch event processor of its
 * own: it runs after the scheduler's batch, never inside it.
 */
export class OutcomePipeline {
  readonly publisher: OutcomePublisher;
  private readonly disruptor: Disruptor<OutcomeSchema>;

  constructor(metrics: BalancerMetrics, opts: { size?: number; waitStrategy?: WaitStrategyKind } = {}) {
    const labels = new LabelTable();
    this.disruptor = new Disruptor<OutcomeSchema>({
      layout: outcomeLayout,
      size: opts.size ?? 4096,
      producerType: 'single', // the scheduler, on the main thread
      waitStrategy: opts.waitStrategy,
    });
    this.disruptor.handleEventsWith(new MetricsStage(metrics, labels));
    this.publisher = new OutcomePublisher(this.disruptor.ringBuffer, labels);
  }

  async start(): Promise<void> {
    await this.disruptor.start();
  }

  /** Applies every record published so far, then stops. */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    await this.disruptor.shutdown(timeoutMs).catch(() => this.disruptor.halt());
  }
}
