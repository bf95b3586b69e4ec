import type { PoolNode } from '../nodes/node';
import { compareIds, freeCandidates, minBy } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * Weights of the `performance` score's factors. Each factor is in [0, 1] and 0 is best, so the
 * score is in [0, sum of weights] and lower is better.
 */
export interface PerformanceWeights {
  /** Failure rate: `1 - estimates.successRate(node)`. */
  failure: number;
  /** Latency EWMA divided by the largest among the free candidates (scale-free: LLM latencies range from ms to minutes). */
  latency: number;
  /** `node.load()`: in-flight relative to capacity. */
  load: number;
  /** `spec.priority` mapped onto [0, 1] across the free candidates (lowest value → 0). */
  priority: number;
}

/**
 * Default weights: failures weigh most (a failed request costs a retry and a whole wait), then
 * latency and load, which both predict how long this request will take; priority only nudges.
 *
 * @example
 * new PerformanceStrategy({ ...DEFAULT_PERFORMANCE_WEIGHTS, priority: 0 }); // ignore priority
 */
export const DEFAULT_PERFORMANCE_WEIGHTS: Readonly<PerformanceWeights> = Object.freeze({
  failure: 0.35,
  latency: 0.3,
  load: 0.25,
  priority: 0.1,
});

/**
 * A multi-factor score over the free nodes, lower is better:
 *
 * `score = w.failure·(1 − successRate) + w.latency·(latencyMs / max latencyMs) + w.load·load()
 *        + w.priority·(priority − min priority) / (max priority − min priority)`
 *
 * Ties go to the lower priority value, then the id. Unobserved nodes count as fully successful and
 * at the prior latency, so they are neither shunned nor favoured.
 *
 * @example
 * const perf = new PerformanceStrategy(); // DEFAULT_PERFORMANCE_WEIGHTS
 * perf.select(nodes, req, ctx);
 * perf.score(node, nodes, ctx); // the number it compares, for status pages and tests
 */
export class PerformanceStrategy implements Strategy {
  readonly name = 'performance';
  /** The weights in use: the defaults overridden by the constructor's. */
  readonly weights: Readonly<PerformanceWeights>;

  constructor(weights: Partial<PerformanceWeights> = {}) {
    this.weights = Object.freeze({ ...DEFAULT_PERFORMANCE_WEIGHTS, ...weights });
  }

  select(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): PoolNode | null {
    const free = freeCandidates(candidates, req.model);
    const norms = normalisers(free, ctx);
    const scores = new Map(free.map((n) => [n.id, this.scoreWith(n, norms, ctx)]));
    const s = (n: PoolNode): number => scores.get(n.id) ?? Infinity;
    return minBy(free, (a, b) => s(a) - s(b) || a.spec.priority - b.spec.priority || compareIds(a.id, b.id));
  }

  /** The score of `node` among `peers` (which normalise latency and priority); lower is better. */
  score(node: PoolNode, peers: readonly PoolNode[], ctx: RoutingContext): number {
    return this.scoreWith(node, normalisers(peers, ctx), ctx);
  }

  private scoreWith(node: PoolNode, n: Normalisers, ctx: RoutingContext): number {
    const est = ctx.estimates;
    const w = this.weights;
    const failure = 1 - clamp01(est.successRate(node.id));
    const latency = n.maxLatency > 0 ? est.latencyMs(node.id) / n.maxLatency : 0;
    const prio = n.maxPrio > n.minPrio ? (node.spec.priority - n.minPrio) / (n.maxPrio - n.minPrio) : 0;
    return w.failure * failure + w.latency * latency + w.load * Math.min(1, node.load()) + w.priority * prio;
  }
}

interface Normalisers {
  maxLatency: number;
  minPrio: number;
  maxPrio: number;
}

function normalisers(peers: readonly PoolNode[], ctx: RoutingContext): Normalisers {
  const n: Normalisers = { maxLatency: 0, minPrio: Infinity, maxPrio: -Infinity };
  for (const p of peers) {
    n.maxLatency = Math.max(n.maxLatency, ctx.estimates.latencyMs(p.id));
    n.minPrio = Math.min(n.minPrio, p.spec.priority);
    n.maxPrio = Math.max(n.maxPrio, p.spec.priority);
  }
  return n;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
