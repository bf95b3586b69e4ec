import type { PoolNode } from '../nodes/node';
import { compareIds, freeCandidates, minBy } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * Weights of the `performance` score's terms (`strategy.performance.weights` in the config). Each
 * term is in [0, 1] and 0 is best, so the score is in [0, sum of weights] and lower is better.
 * The first five are the terms of the Python performance seed's score, with its weights as
 * defaults; `load` is this balancer's own, and `gpuUtil` is off unless given a weight.
 */
export interface PerformanceWeights {
  /** Host CPU load: `node_load1` per core from the node's exporter, capped at 1 (the seed's `cpu_load`, 0.3). */
  cpuLoad: number;
  /**
   * Scarcity of free GPU memory: the least free GPU memory among the candidates divided by this
   * node's (the seed's `1 / gpu_free_mem`, 0.2, made scale-free as latency is): 1 for the node with
   * the least free memory, falling as a node has more.
   */
  gpuMemory: number;
  /** `spec.priority` mapped onto [0, 1] across the free candidates (lowest value → 0; the seed's 0.1). */
  priority: number;
  /** Latency EWMA divided by the largest among the free candidates (scale-free: LLM latencies range from ms to minutes; the seed's 0.2). */
  latency: number;
  /** Failure rate: `1 - estimates.successRate(node)` (the seed's `1 - success_rate`, 0.2). */
  failure: number;
  /** `node.load()`: in-flight relative to capacity, which the balancer knows of every node, exporter or not. */
  load: number;
  /** Mean GPU utilisation from the node's exporter, in [0, 1]; not in the seed, so 0 by default. */
  gpuUtil: number;
}

/** The names of the weights, in the order the config documents them. */
export const PERFORMANCE_WEIGHT_NAMES: readonly (keyof PerformanceWeights)[] = Object.freeze(['cpuLoad', 'gpuMemory', 'priority', 'latency', 'failure', 'load', 'gpuUtil']);

/**
 * Default weights: the seed's for its five terms (CPU load 0.3, GPU memory 0.2, priority 0.1,
 * latency 0.2, failures 0.2, which sum to 1), plus 0.25 for the slot load: without an exporter the
 * slot load is the only load the balancer sees, and in-flight counts move with every request where
 * a scrape is seconds old.
 *
 * @example
 * new PerformanceStrategy({ ...DEFAULT_PERFORMANCE_WEIGHTS, priority: 0 }); // ignore priority
 */
export const DEFAULT_PERFORMANCE_WEIGHTS: Readonly<PerformanceWeights> = Object.freeze({
  cpuLoad: 0.3,
  gpuMemory: 0.2,
  priority: 0.1,
  latency: 0.2,
  failure: 0.2,
  load: 0.25,
  gpuUtil: 0,
});

/**
 * A multi-term score over the free nodes, lower is better:
 *
 * `score = w.cpuLoad·min(1, cpuLoadPerCore) + w.gpuMemory·(min gpuMemFree / gpuMemFree)
 *        + w.priority·(priority − min priority) / (max priority − min priority)
 *        + w.latency·(latencyMs / max latencyMs) + w.failure·(1 − successRate)
 *        + w.load·load() + w.gpuUtil·gpuUtil`
 *
 * The resource terms (CPU load, GPU memory, GPU utilisation) come from `node.resources(now)`. A
 * node without them (no exporter, a failed or stale scrape, a CPU-only node's GPU terms) is neutral
 * for that term: it scores the mean of the candidates that have it (every candidate, with a free
 * slot or not, and the least free GPU memory is taken over them all too), neither a penalty nor a
 * bonus; when no candidate has it, the term is 0 for all. Ties go to the lower priority value, then the
 * id. Unobserved nodes count as fully successful and at the prior latency, so they are neither
 * shunned nor favoured.
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
    const norms = normalisers(free, candidates, ctx);
    const scores = new Map(free.map((n) => [n.id, this.scoreWith(n, norms, ctx)]));
    const s = (n: PoolNode): number => scores.get(n.id) ?? Infinity;
    return minBy(free, (a, b) => s(a) - s(b) || a.spec.priority - b.spec.priority || compareIds(a.id, b.id));
  }

  /** The score of `node` among `peers` (which normalise latency, priority and GPU memory, and set the neutral resource terms); lower is better. */
  score(node: PoolNode, peers: readonly PoolNode[], ctx: RoutingContext): number {
    return this.scoreWith(node, normalisers(peers, peers, ctx), ctx);
  }

  private scoreWith(node: PoolNode, n: Normalisers, ctx: RoutingContext): number {
    const est = ctx.estimates;
    const w = this.weights;
    const r = node.resources(ctx.now);
    const failure = 1 - clamp01(est.successRate(node.id));
    const latency = n.maxLatency > 0 ? est.latencyMs(node.id) / n.maxLatency : 0;
    const prio = n.maxPrio > n.minPrio ? (node.spec.priority - n.minPrio) / (n.maxPrio - n.minPrio) : 0;
    const cpu = r?.cpuLoadPerCore !== undefined ? cpuTerm(r.cpuLoadPerCore) : n.cpu.neutral;
    const gpuMem = r?.gpuMemFreeBytes !== undefined ? gpuMemoryTerm(r.gpuMemFreeBytes, n.minGpuFree) : n.gpuMem.neutral;
    const gpuUtil = r?.gpuUtil !== undefined ? clamp01(r.gpuUtil) : n.gpuUtil.neutral;
    return w.cpuLoad * cpu + w.gpuMemory * gpuMem + w.priority * prio + w.latency * latency + w.failure * failure + w.load * Math.min(1, node.load()) + w.gpuUtil * gpuUtil;
  }
}

/** A resource term's neutral value: the mean of the candidates that have it (0 when none has). */
interface Neutral {
  sum: number;
  count: number;
  neutral: number;
}

interface Normalisers {
  maxLatency: number;
  minPrio: number;
  maxPrio: number;
  /** The least free GPU memory among the candidates that report it (Infinity when none does). */
  minGpuFree: number;
  cpu: Neutral;
  gpuMem: Neutral;
  gpuUtil: Neutral;
}

/**
 * Latency and priority are normalised over the free candidates (the nodes being compared); the
 * resource terms over every candidate, busy ones too: a node's unknown load is taken for the mean
 * of the pool's known loads, not of whichever happen to have a free slot now.
 */
function normalisers(free: readonly PoolNode[], all: readonly PoolNode[], ctx: RoutingContext): Normalisers {
  const n: Normalisers = {
    maxLatency: 0,
    minPrio: Infinity,
    maxPrio: -Infinity,
    minGpuFree: Infinity,
    cpu: { sum: 0, count: 0, neutral: 0 },
    gpuMem: { sum: 0, count: 0, neutral: 0 },
    gpuUtil: { sum: 0, count: 0, neutral: 0 },
  };
  for (const p of free) {
    n.maxLatency = Math.max(n.maxLatency, ctx.estimates.latencyMs(p.id));
    n.minPrio = Math.min(n.minPrio, p.spec.priority);
    n.maxPrio = Math.max(n.maxPrio, p.spec.priority);
  }
  for (const p of all) {
    const r = p.resources(ctx.now);
    if (r?.gpuMemFreeBytes !== undefined) n.minGpuFree = Math.min(n.minGpuFree, r.gpuMemFreeBytes);
    if (r?.cpuLoadPerCore !== undefined) add(n.cpu, cpuTerm(r.cpuLoadPerCore));
    if (r?.gpuUtil !== undefined) add(n.gpuUtil, clamp01(r.gpuUtil));
  }
  // The GPU memory term of a node depends on the least free memory of all: a second pass.
  for (const p of all) {
    const free = p.resources(ctx.now)?.gpuMemFreeBytes;
    if (free !== undefined) add(n.gpuMem, gpuMemoryTerm(free, n.minGpuFree));
  }
  return n;
}

function add(t: Neutral, x: number): void {
  t.sum += x;
  t.count++;
  t.neutral = t.sum / t.count;
}

function cpuTerm(loadPerCore: number): number {
  return clamp01(loadPerCore);
}

/** `minFree / free`: 1 for the node with the least free GPU memory; a node with none free scores 1. */
function gpuMemoryTerm(free: number, minFree: number): number {
  if (free <= 0) return 1;
  return clamp01(minFree / free);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
