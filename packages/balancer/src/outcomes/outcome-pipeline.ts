import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Disruptor, SameThreadWaitStrategy, type WaitStrategyKind } from '@ollama-ring/disruptor';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { BalancerMetrics } from '../metrics';
import { workerEntry } from '../worker-entry';
import { LabelTable } from './label-table';
import { MetricsStage } from './metrics-stage';
import type { MetricsWorkerOptions, ScrapeAnswer } from './metrics-worker';
import { OutcomePublisher } from './outcome-publisher';
import { type OutcomeSchema, outcomeLayout } from './outcome-record';

/** Where the completion/metrics stage runs: the config's `disruptor.metricsPlacement`. */
export type MetricsPlacement = 'inline' | 'worker';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** How long a scrape waits for the worker's counts before answering without them. */
const WORKER_SCRAPE_TIMEOUT_MS = 2_000;

/**
 * The outcome ring: the scheduler publishes (through {@link OutcomePublisher}, its observer) and the
 * completion/metrics stage consumes, as a batch event processor of its own: inline on the main
 * thread, where it runs after the scheduler's batch, or on a worker thread, where it counts into a
 * registry of its own that each scrape aggregates with the main thread's (the state gauges).
 */
export class OutcomePipeline {
  readonly publisher: OutcomePublisher;
  private readonly disruptor: Disruptor<OutcomeSchema>;
  private readonly channel: BroadcastChannel | undefined;
  private readonly waiting = new Map<number, (json: MetricsJson | undefined) => void>();
  private nextScrape = 1;

  constructor(
    private readonly metrics: BalancerMetrics,
    opts: { size?: number; waitStrategy?: WaitStrategyKind; placement?: MetricsPlacement } = {},
  ) {
    const labels = LabelTable.create();
    this.disruptor = new Disruptor<OutcomeSchema>({
      layout: outcomeLayout,
      size: opts.size ?? 4096,
      producerType: 'single', // the scheduler, on the main thread
      // Inline, producer and stage share the main thread and wake each other without the futex.
      waitStrategy: opts.placement === 'worker' ? opts.waitStrategy : new SameThreadWaitStrategy(),
    });
    if (opts.placement === 'worker') {
      const name = `ollama-ring-metrics-${randomUUID()}`;
      this.channel = new BroadcastChannel(name);
      this.channel.unref();
      const options: MetricsWorkerOptions = { labels: labels.sab, prefix: metrics.prefix, channel: name };
      this.disruptor.handleEventsWith({
        module: workerEntry('outcomes/metrics-worker.js'),
        options,
        // The worker must hear scrape requests between batches.
        mode: 'event-loop',
        name: 'metrics',
        onMessage: (m) => this.answered(m as ScrapeAnswer),
      });
    } else this.disruptor.handleEventsWith(new MetricsStage(metrics, labels));
    this.publisher = new OutcomePublisher(this.disruptor.ringBuffer, labels);
  }

  async start(): Promise<void> {
    await this.disruptor.start();
  }

  /** Prometheus text: the main registry, with the worker's counts aggregated in when the stage runs there. */
  async scrape(): Promise<string> {
    if (!this.channel) return this.metrics.scrape();
    const [own, worker] = await Promise.all([this.metrics.registry.getMetricsAsJSON(), this.askWorker(this.channel)]);
    return AggregatorRegistry.aggregate(worker ? [own, worker] : [own]).metrics();
  }

  /** Applies every record published so far, then stops. */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    await this.disruptor.shutdown(timeoutMs).catch(() => this.disruptor.halt());
    this.channel?.close();
    for (const resolve of this.waiting.values()) resolve(undefined);
    this.waiting.clear();
  }

  private askWorker(channel: BroadcastChannel): Promise<MetricsJson | undefined> {
    const scrape = this.nextScrape++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(scrape);
        resolve(undefined);
      }, WORKER_SCRAPE_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(scrape, (json) => {
        clearTimeout(timer);
        resolve(json);
      });
      channel.postMessage({ scrape });
    });
  }

  private answered(a: ScrapeAnswer): void {
    const resolve = this.waiting.get(a.scrape);
    this.waiting.delete(a.scrape);
    resolve?.(a.json as MetricsJson);
  }
}
