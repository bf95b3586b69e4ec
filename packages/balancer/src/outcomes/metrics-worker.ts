/**
 * Entry of the completion/metrics stage on a worker thread (`disruptor.metricsPlacement: worker`):
 * the stage counts into a registry of its own there, and answers the main thread's scrapes with
 * that registry's JSON, which the main thread aggregates with its own (state gauges).
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { WorkerHandlerContext } from '@ollama-ring/disruptor';
import { BalancerMetrics } from '../metrics';
import { LabelTable } from './label-table';
import { MetricsStage } from './metrics-stage';

export interface MetricsWorkerOptions {
  labels: SharedArrayBuffer;
  prefix: string;
  /** Name of the BroadcastChannel on which scrapes are asked for. */
  channel: string;
}

/** A scrape request from the main thread, and its answer (through the handler's `postMessage`). */
export type ScrapeRequest = { scrape: number };
export type ScrapeAnswer = { scrape: number; json: unknown };

export function createHandler(options: MetricsWorkerOptions, ctx: WorkerHandlerContext): MetricsStage {
  const metrics = new BalancerMetrics({ prefix: options.prefix });
  const channel = new BroadcastChannel(options.channel);
  // The stage's own run loop keeps the thread alive; the channel must not.
  channel.unref();
  channel.onmessage = (msg) => {
    const { scrape } = (msg as { data: ScrapeRequest }).data;
    void metrics.registry.getMetricsAsJSON().then((json) => ctx.postMessage({ scrape, json } satisfies ScrapeAnswer));
  };
  const stage = new MetricsStage(metrics, LabelTable.attach(options.labels));
  // Closed with the stage, so a halted pipeline leaves nothing behind.
  stage.onShutdown = () => channel.close();
  return stage;
}
