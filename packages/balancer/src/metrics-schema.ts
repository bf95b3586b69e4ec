import { exponentialBuckets } from 'prom-client';
import type { BreakerState } from './nodes/circuit-breaker';
import type { HealthState } from './nodes/node';

// The vocabulary of the balancer's metrics: what is recorded, with which values. BalancerMetrics
// (metrics.ts) records it; the completion/metrics stage (outcomes/) and the gateway speak it.

/** What the per-node gauges show: a live node (`PoolNode`) or a snapshot of one (`NodeSnapshot`) both fit. */
export interface NodeGaugeInput {
  readonly id: string;
  readonly inFlight: number;
  readonly maxConcurrent: number;
  readonly health: HealthState;
  readonly breakerState: BreakerState;
  readonly loadedModels: Iterable<{ readonly expiresAt: number }>;
}

/**
 * Histogram buckets for LLM timings, in seconds: 50 ms doubling up to about 7 minutes (14 buckets).
 * prom-client's defaults stop at 10 s, below a single cold load.
 *
 * @example
 * new BalancerMetrics({ latencyBuckets: LLM_LATENCY_BUCKETS.slice(0, 10) });
 */
export const LLM_LATENCY_BUCKETS: readonly number[] = Object.freeze(exponentialBuckets(0.05, 2, 14));

/**
 * The value of `node_health`: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown (not checked yet),
 * so `node_health < 1` alerts on anything short of healthy and `== -1` spots nodes never reached.
 *
 * @example
 * HEALTH_GAUGE_VALUE.DEGRADED; // 0.5
 */
export const HEALTH_GAUGE_VALUE: Readonly<Record<HealthState, number>> = Object.freeze({
  HEALTHY: 1,
  DEGRADED: 0.5,
  UNHEALTHY: 0,
  UNKNOWN: -1,
});

/**
 * The value of `breaker_state`: 0 closed, 1 half-open, 2 open (higher is worse).
 *
 * @example
 * BREAKER_GAUGE_VALUE.open; // 2
 */
export const BREAKER_GAUGE_VALUE: Readonly<Record<BreakerState, number>> = Object.freeze({
  closed: 0,
  'half-open': 1,
  open: 2,
});

/**
 * How a request ended, for `requests_total{outcome}`: `success`; `error` (upstream or internal
 * failure); `timeout` (any phase); `aborted` (the client went away); `rejected` (refused before
 * dispatch: rate limit, backpressure, full queue, validation, no node).
 *
 * @example
 * metrics.recordRequest({ model: 'llama3.2', node: 'gpu-1', outcome: 'success', latencyMs: 2300 });
 */
export type RequestOutcome = 'success' | 'error' | 'timeout' | 'aborted' | 'rejected';

/**
 * The timed phases of an upstream exchange, for `timeouts_total{phase}`. Queue-wait timeouts are
 * `queue_rejected_total{reason="timeout"}`.
 *
 * @example
 * metrics.recordTimeout('first-byte');
 */
export type TimeoutPhase = 'connect' | 'first-byte' | 'idle' | 'total';

/**
 * One finished request, for {@link BalancerMetrics.recordRequest}. Times are in ms (the
 * balancer's unit); the histograms store seconds.
 *
 * @example
 * const r: RequestRecord = { model: 'llama3.2', node: 'gpu-1', outcome: 'success', latencyMs: 900, ttftMs: 120 };
 */
export interface RequestRecord {
  model: string;
  /** The node that served it; absent when it never reached one (label `none`). */
  node?: string;
  outcome: RequestOutcome;
  /** Arrival to last byte. */
  latencyMs?: number;
  /** Arrival to first token. */
  ttftMs?: number;
}

/**
 * Settings of {@link BalancerMetrics}.
 *
 * @example
 * const opts: MetricsOptions = { prefix: 'ollama_lb_', defaultMetrics: true };
 */
export interface MetricsOptions {
  /** Prepended to every name; `_` is added when missing. Default `ollama_lb_`. */
  prefix?: string;
  /** Also collect Node's process metrics (CPU, memory, event-loop lag, GC) into this registry. */
  defaultMetrics?: boolean;
  /** Buckets of the latency, TTFT and queue-wait histograms, in seconds. */
  latencyBuckets?: readonly number[];
  /**
   * Distinct `model` label values kept; later models are labelled `other`, so clients naming
   * random models cannot grow the series without bound. Default 256.
   */
  maxModelLabels?: number;
}
