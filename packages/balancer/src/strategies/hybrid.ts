import { formatPath } from '../config/paths';
import { ConfigError } from '../errors';
import type { PoolNode } from '../nodes/node';
import { byLoadThenPriority } from './candidate-order';
import {
  compileHybrid,
  defaultHybridConfig,
  type CompiledHybrid,
  type CompiledRule,
  type CompiledTarget,
  type HybridConfig,
  type HybridOptions,
  type HybridWeights,
} from './hybrid-config';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/** One candidate's factors, each in [0, 1] with 1 best, and the weighted score. */
export interface HybridScore {
  readonly node: PoolNode;
  readonly capacity: number;
  readonly health: number;
  /** The response time the `responseTime` factor was worked out from, in ms. */
  readonly responseMs: number;
  readonly responseTime: number;
  readonly affinity: number;
  /** Σ weight × factor; higher is better. */
  readonly score: number;
  /** False when a `require` rule that applies to this request leaves the node out. */
  readonly allowed: boolean;
}

/**
 * The seed's normalisation of a response time: 1 for an instant answer, 0.5 at `scaleMs`.
 *
 * @example responseScore(5_000, 10_000); // 0.666…, the seed's score for its default 5 s
 */
export function responseScore(responseMs: number, scaleMs: number): number {
  return 1 / (1 + Math.max(0, responseMs) / scaleMs);
}

/**
 * The weighted sum of the four factors (each in [0, 1]) with normalised weights.
 *
 * @example hybridScore({ capacity: 0.5, health: 1, responseTime: 2 / 3, affinity: 0.5 }, { capacity: 0.4, health: 0.3, responseTime: 0.2, affinity: 0.1 }); // 0.6833…
 */
export function hybridScore(f: Readonly<Record<keyof HybridWeights, number>>, w: Readonly<HybridWeights>): number {
  return w.capacity * f.capacity + w.health * f.health + w.responseTime * f.responseTime + w.affinity * f.affinity;
}

/** Neutral affinity: a node no matching `prefer` rule names (the seed's 0.5). */
const NEUTRAL_AFFINITY = 0.5;
const EPSILON = 1e-12;

/**
 * The seed's hybrid strategy, on what the balancer really knows. Every candidate gets
 *
 * ```
 * score = w.capacity · freeSlots(model) / slotsFor(model)
 *       + w.health · successRate · (DEGRADED ? 0.5 : 1) · (breaker half-open ? 0.5 : 1)
 *       + w.responseTime · 1 / (1 + responseMs / responseTimeScaleMs)
 *       + w.affinity · affinity
 * responseMs = learned service time of the model there (+ its learned load time when cold)
 * affinity   = 0.5 + 0.5 · (weights of the matching prefer rules naming the node) / (weights of all matching prefer rules)
 * ```
 *
 * with the weights normalised to sum 1 (default 0.4, 0.3, 0.2, 0.1, as in the seed). A `require`
 * rule that matches the request keeps only the candidates it names, as long as at least one of them
 * is a candidate (routable, has the model, the tags); when none is, the rule is skipped, as the seed
 * falls back when its preferred server is not among the healthy ones. The highest score wins; ties
 * go to lower load, then lower node priority value, then id. When the winner has no free slot,
 * `select` returns null and the request waits for it (the scheduler offers it again when a slot
 * frees): a busy required node is waited for rather than bypassed. A full node's capacity factor is
 * 0, so with the default weights a free node nearly always outscores it.
 *
 * Rules are matched per request against precompiled patterns; scoring allocates nothing per
 * candidate. `scoreAll` gives every factor, for tests and status pages.
 *
 * @example
 * const s = new HybridStrategy({ rules: [{ match: { model: '*:32b' }, require: { tags: ['big'] } }] });
 * s.select(candidates, req, ctx);
 */
export class HybridStrategy implements Strategy {
  readonly name = 'hybrid';
  /** The compiled settings: weights normalised, patterns compiled. */
  readonly settings: CompiledHybrid;
  // Scratch lists reused by every select (the scheduler calls strategies from one thread, one at a time).
  private readonly prefer: CompiledRule[] = [];
  private readonly require: CompiledRule[] = [];
  private readonly applied: CompiledTarget[] = [];
  private preferWeight = 0;

  /** Throws `ConfigError` naming the key (`strategy.hybrid.…`) when the settings are invalid. */
  constructor(settings: HybridOptions = {}) {
    const d = defaultHybridConfig();
    const cfg: HybridConfig = {
      weights: { ...d.weights, ...settings.weights },
      responseTimeScaleMs: settings.responseTimeScaleMs ?? d.responseTimeScaleMs,
      rules: settings.rules ?? d.rules,
    };
    const { compiled, problems } = compileHybrid(cfg);
    if (!compiled) {
      const issues = problems.filter((p) => !p.warning).map((p) => ({ path: formatPath(['strategy', 'hybrid', ...p.segs]), message: p.message }));
      throw new ConfigError('invalid hybrid strategy settings', issues);
    }
    this.settings = compiled;
  }

  select(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): PoolNode | null {
    this.matchRules(req, candidates);
    let best: PoolNode | null = null;
    let bestScore = -Infinity;
    for (const n of candidates) {
      if (!this.allowed(n)) continue;
      const s = this.scoreOf(n, req, ctx);
      if (best === null || s > bestScore + EPSILON || (Math.abs(s - bestScore) <= EPSILON && byLoadThenPriority(n, best) < 0)) {
        best = n;
        bestScore = s;
      }
    }
    // The winner without a free slot: wait for it (null), as for any busy node a strategy prefers.
    return best !== null && best.freeSlots(req.model) > 0 ? best : null;
  }

  /** Every candidate's factors and score, best first (the order `select` ranks them in; left-out nodes last). */
  scoreAll(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): HybridScore[] {
    this.matchRules(req, candidates);
    const w = this.settings.weights;
    return candidates
      .map((node): HybridScore => {
        const capacity = capacityScore(node, req.model);
        const health = healthScore(node, ctx);
        const responseMs = expectedResponseMs(node, req, ctx);
        const responseTime = responseScore(responseMs, this.settings.responseTimeScaleMs);
        const affinity = this.affinity(node);
        return { node, capacity, health, responseMs, responseTime, affinity, score: hybridScore({ capacity, health, responseTime, affinity }, w), allowed: this.allowed(node) };
      })
      .sort((a, b) => Number(b.allowed) - Number(a.allowed) || b.score - a.score || byLoadThenPriority(a.node, b.node));
  }

  private scoreOf(n: PoolNode, req: RoutingRequest, ctx: RoutingContext): number {
    const w = this.settings.weights;
    // A factor whose weight is 0 is not worked out at all.
    let s = w.capacity > 0 ? w.capacity * capacityScore(n, req.model) : 0;
    if (w.health > 0) s += w.health * healthScore(n, ctx);
    if (w.responseTime > 0) s += w.responseTime * responseScore(expectedResponseMs(n, req, ctx), this.settings.responseTimeScaleMs);
    if (w.affinity > 0) s += w.affinity * this.affinity(n);
    return s;
  }

  /**
   * Sorts the rules `req` matches into the scratch lists, and decides which `require` rules apply:
   * in config order, each one that leaves at least one candidate (among those the earlier ones kept).
   */
  private matchRules(req: RoutingRequest, candidates: readonly PoolNode[]): void {
    this.prefer.length = 0;
    this.require.length = 0;
    this.applied.length = 0;
    this.preferWeight = 0;
    for (const r of this.settings.rules) {
      if (!matches(r, req)) continue;
      if (r.effect === 'prefer') {
        this.prefer.push(r);
        this.preferWeight += r.weight;
      } else this.require.push(r);
    }
    for (const r of this.require) {
      let kept = false;
      for (const n of candidates) {
        if (this.allowed(n) && names(r.target, n)) {
          kept = true;
          break;
        }
      }
      if (kept) this.applied.push(r.target);
    }
  }

  private allowed(n: PoolNode): boolean {
    for (const t of this.applied) if (!names(t, n)) return false;
    return true;
  }

  private affinity(n: PoolNode): number {
    if (this.preferWeight <= 0) return NEUTRAL_AFFINITY;
    let w = 0;
    for (const r of this.prefer) if (names(r.target, n)) w += r.weight;
    return NEUTRAL_AFFINITY + (1 - NEUTRAL_AFFINITY) * (w / this.preferWeight);
  }
}

/**
 * The capacity factor: the share of the slots `model` may use on the node that are free now.
 *
 * This is the one place where node resource signals (free GPU memory, CPU load, once the balancer
 * reads them) are to be combined with the slot share, e.g. as the smaller of the two shares. Until
 * then the slots are all the balancer knows of a node's capacity.
 */
export function capacityScore(node: PoolNode, model: string): number {
  const slotShare = node.freeSlots(model) / node.slotsFor(model);
  return Math.min(1, Math.max(0, slotShare));
}

/** The health factor: learned success rate, halved while DEGRADED and again while the breaker is half-open (on trial). */
export function healthScore(node: PoolNode, ctx: RoutingContext): number {
  const success = Math.min(1, Math.max(0, ctx.estimates.successRate(node.id)));
  return success * (node.health === 'DEGRADED' ? 0.5 : 1) * (node.breakerState === 'half-open' ? 0.5 : 1);
}

/** What a request of the model is expected to take on the node: its learned service time, plus the learned load when it is cold there. */
export function expectedResponseMs(node: PoolNode, req: RoutingRequest, ctx: RoutingContext): number {
  const est = ctx.estimates;
  const service = Math.max(0, est.serviceMs(node.id, req.model));
  return node.isHot(req.model, req.optionsSignature, ctx.now) ? service : service + Math.max(0, est.loadMs(node.id, req.model));
}

function matches(r: CompiledRule, req: RoutingRequest): boolean {
  if (r.models.length > 0) {
    let any = false;
    for (const re of r.models) if (re.test(req.model)) any = true;
    if (!any) return false;
  }
  if (r.priority !== undefined && req.priority !== r.priority) return false;
  if (r.minPriority !== undefined && req.priority < r.minPriority) return false;
  if (r.maxPriority !== undefined && req.priority > r.maxPriority) return false;
  for (const t of r.tags) if (!req.requiredTags.includes(t)) return false;
  if (r.complexity.length > 0 && (req.complexity === undefined || !r.complexity.includes(req.complexity))) return false;
  return true;
}

function names(t: CompiledTarget, n: PoolNode): boolean {
  if (t.nodes.has(n.id)) return true;
  for (const tag of t.tags) if (n.spec.tags.includes(tag)) return true;
  return false;
}
