import type { PoolNode } from '../nodes/node';
import { byLoadThenPriority } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/** Tuning of `predictive`'s guards; every field has a default. */
export interface PredictiveOptions {
  /**
   * Wait for a busy node only when its TTFT beats the best free node's by at least this fraction of
   * the free node's TTFT (default 0.1). The estimates are EWMAs; a hair's advantage is noise, and
   * binding now is the safer side.
   */
  waitMarginRatio: number;
  /** ... and by at least this many ms (default 25). */
  waitMarginMs: number;
  /**
   * With a latency budget: when the best free node meets the remaining budget, a busy node's slot
   * wait counts this many times over (default 2) before waiting for it is allowed, so the request
   * does not gamble a budget it could meet on a wait estimate that only fits if it is exact.
   */
  budgetWaitSafety: number;
  /**
   * Weight of a cold candidate's cost to the queue (default 1): the slot time its load takes from
   * the requests waiting for that node's resident models (see `TtftEstimate.externalityMs`).
   */
  externalityWeight: number;
}

/** Defaults of {@link PredictiveOptions}. */
export const DEFAULT_PREDICTIVE_OPTIONS: Readonly<PredictiveOptions> = Object.freeze({
  waitMarginRatio: 0.1,
  waitMarginMs: 25,
  budgetWaitSafety: 2,
  externalityWeight: 1,
});

/** One candidate's predicted time to first token and its parts, all in ms. */
export interface TtftEstimate {
  readonly node: PoolNode;
  /** A slot for the model is free now. */
  readonly free: boolean;
  /** (model, options signature) is resident: no load. */
  readonly hot: boolean;
  /** `ctx.expectedSlotWaitMs`: until the next slot frees (0 when free). */
  readonly slotWaitMs: number;
  /** Extra wait for requests this strategy already told to wait for this node in the same pass. */
  readonly queuedAheadMs: number;
  /**
   * Until the loads we already sent this node are done: cold, all of them (Ollama loads one at a
   * time); hot, the one of this model if it is still loading.
   */
  readonly loadQueueMs: number;
  /** Cold only: until a busy model the load must evict has drained (`serviceMs` of that model). */
  readonly drainMs: number;
  /** 0 when hot, else `estimates.loadMs`. */
  readonly loadMs: number;
  /** `estimates.prefillMs` for this prompt. */
  readonly prefillMs: number;
  /** slotWaitMs + queuedAheadMs + loadQueueMs + drainMs + loadMs + prefillMs. */
  readonly ttftMs: number;
  /** The resident models a cold load here evicts (names), as Ollama would pick them. */
  readonly evicts: readonly string[];
  /** What those evictions cost later: Σ reload time × the model's share of the node's recent use. */
  readonly evictionMs: number;
  /**
   * Cold only: what the load costs the queue. A load holds its slot for `loadQueueMs + drainMs +
   * loadMs` longer than a hot request would; the node then serves its resident models with one slot
   * fewer for that long, so each of the `waiting` requests queued for those models is pushed back by
   * that time ÷ the node's slots. Their sum, × `externalityWeight`. 0 when nobody waits for the node.
   */
  readonly externalityMs: number;
  /** What the strategy ranks by: ttftMs + evictionMs + externalityMs. */
  readonly costMs: number;
}

interface Deferral {
  /** When this strategy first told the request to wait. */
  since: number;
  /** When waiting stops being worth it: `since` + the best free node's TTFT at the time. */
  giveUpAt: number;
  /** When the busy node's slot was expected then: `since` + its slot wait and the queue ahead. */
  expectedAt: number;
}

/**
 * The default strategy: predicts the time to first token on every candidate, free or busy, and
 * picks the minimum. For a candidate node n and request r:
 *
 * ```
 * ttft(n) = expectedSlotWaitMs(n, r.model)                       // 0 when a slot is free now
 *         + waitersAhead(n) · serviceMs(n, r.model) / slotsFor(r.model)
 *         + (isHot(n, r.model, r.optionsSignature) ? 0 : loadMs(n, r.model))
 *         + prefillMs(n, r.model, r.promptTokens)
 * ```
 *
 * A cold candidate's rank also carries two costs to others (not in its TTFT): `evictionMs`, the
 * reloads its evictions cause later, and `externalityMs`, the slot time the load takes from the
 * requests queued for the node's resident models (waiting × load slot time ÷ slots). A load that
 * is right for one request (a long queue for the hot copy) but holds a slot the queue behind needs
 * for the load's seconds happens only when it pays for the whole queue.
 *
 * All terms are ms on the scheduler's clock; `loadMs`, `prefillMs` and `serviceMs` are the learned
 * EWMAs of `ctx.estimates` (their priors until observed). Hot means the (model, options signature)
 * pair, so a model loaded with another `num_ctx` costs a full load. `waitersAhead(n)` counts the
 * requests this strategy told to wait for `n` earlier in the same scheduling pass (same `ctx` and
 * `ctx.now`): each will take one of `n`'s next slots, so the k-th waiter expects k more slot turns.
 * This stops a whole queue piling onto one hot node while a free node idles.
 *
 * Ties go to a free node, then lower `load()`, then lower priority value, then id. When the minimum
 * is a free node it is returned. When it is a busy node, the request waits (`null`, it is offered
 * again when a slot frees) unless a guard says to take the best free node F instead of waiting for
 * the best busy node B:
 * 1. margin: `ttft(B) + max(waitMarginMs, waitMarginRatio · ttft(F)) ≥ ttft(F)`; noise in the
 *    estimates must not make requests wait for nothing;
 * 2. give-up: the request has already waited as long as F's TTFT was when it was first told to
 *    wait (had it taken F then, it would have its first token by now), and on the current
 *    estimates B no longer wins once B is charged how late its slot already is (now − when it was
 *    expected at the first deferral): the wait estimate was wrong once, so it is trusted only if it
 *    wins even if it is wrong by as much again. A slot that really is about to free (per-request
 *    remaining times, see `expectedSlotWaitMs`) is still waited for; one whose estimate keeps
 *    slipping is not, and as the slip grows with time this still bounds starvation;
 * 3. budget: with `latencyBudgetMs`, if F meets the budget still remaining (since the request's
 *    `arrivedAt`) but B only does when its slot wait is counted once rather than `budgetWaitSafety`
 *    times, take F. The scheduler has already left out the nodes predicted to miss the budget
 *    whenever another meets it (`scheduler/hint-rules.ts`); this guard refines the choice among those.
 * With no free node at all, it returns null. Guards 2 and 3 recognise a request by the identity of
 * its `RoutingRequest` object; a scheduler that passes a fresh object on each offer simply gets
 * guard 1 only.
 *
 * @example
 * const p = new PredictiveStrategy();
 * const node = p.select(candidates, req, ctx); // null = wait for a busy hot node
 * p.estimateAll(candidates, req, ctx);          // the predictions, best first
 */
export class PredictiveStrategy implements Strategy {
  readonly name = 'predictive';
  /** The guard tuning in use: the defaults overridden by the constructor's. */
  readonly options: Readonly<PredictiveOptions>;
  private readonly deferred = new WeakMap<RoutingRequest, Deferral>();
  private readonly waitersAhead = new Map<string, number>();
  private passCtx: RoutingContext | null = null;
  private passNow = NaN;

  constructor(options: Partial<PredictiveOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_PREDICTIVE_OPTIONS, ...options });
  }

  select(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): PoolNode | null {
    this.beginPass(ctx);
    let best: TtftEstimate | null = null;
    let bestFree: TtftEstimate | null = null;
    for (const n of candidates) {
      const e = this.estimate(n, req, ctx);
      if (best === null || compareEstimates(e, best) < 0) best = e;
      if (e.free && (bestFree === null || compareEstimates(e, bestFree) < 0)) bestFree = e;
    }

    if (best === null) return null;
    if (best.free) return this.bind(req, best.node);
    if (bestFree !== null && !this.worthWaiting(best, bestFree, req, ctx.now)) return this.bind(req, bestFree.node);
    this.defer(req, best, bestFree, ctx.now);
    return null;
  }

  /** The TTFT prediction for one candidate (see the class doc for the formula). */
  estimate(node: PoolNode, req: RoutingRequest, ctx: RoutingContext): TtftEstimate {
    const est = ctx.estimates;
    const free = node.freeSlots(req.model) > 0;
    const hot = node.isHot(req.model, req.optionsSignature, ctx.now);
    const rawWait = ctx.expectedSlotWaitMs(node, req.model);
    // An unknown wait on a busy node is not a reason to wait for it.
    const slotWaitMs = Number.isNaN(rawWait) ? (free ? 0 : Infinity) : Math.max(0, rawWait);
    const ahead = this.waitersAhead.get(node.id) ?? 0;
    const queuedAheadMs = ahead > 0 ? (ahead * nonNegative(est.serviceMs(node.id, req.model))) / node.slotsFor(req.model) : 0;
    const loadMs = hot ? 0 : nonNegative(est.loadMs(node.id, req.model));
    const prefillMs = nonNegative(est.prefillMs(node.id, req.model, Math.max(0, req.promptTokens)));
    let drainMs = 0;
    let evictionMs = 0;
    let externalityMs = 0;
    let evicts: string[] = [];
    // Hot but still loading (a load we sent): wait for it. Cold: wait for every load we sent.
    const loadQueueMs = Math.max(0, (hot ? (node.loaded.get(req.model)?.readyAt ?? 0) : node.residency.loadingUntil) - ctx.now);
    if (!hot) {
      const victims = node.evictionsFor(req.model, req.optionsSignature, ctx.now);
      evicts = victims.map((v) => v.model);
      for (const v of victims) {
        if ((node.inFlightByModel.get(v.model) ?? 0) > 0) drainMs = Math.max(drainMs, nonNegative(est.serviceMs(node.id, v.model)));
        evictionMs += nonNegative(est.loadMs(node.id, v.model)) * node.residency.recentShare(v.model);
      }
      const waiting = ctx.waitingFor?.(node, req.model) ?? 0;
      if (waiting > 0) {
        const slotLostMs = loadQueueMs + drainMs + loadMs;
        externalityMs = (this.options.externalityWeight * waiting * slotLostMs) / Math.max(1, node.spec.maxConcurrentRequests);
      }
    }
    const ttftMs = slotWaitMs + queuedAheadMs + loadQueueMs + drainMs + loadMs + prefillMs;
    const costMs = ttftMs + evictionMs + externalityMs;
    return { node, free, hot, slotWaitMs, queuedAheadMs, loadQueueMs, drainMs, loadMs, prefillMs, ttftMs, evicts, evictionMs, externalityMs, costMs };
  }

  /** Every candidate's prediction, best first (the order `select` ranks them in). */
  estimateAll(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): TtftEstimate[] {
    this.beginPass(ctx);
    return candidates.map((n) => this.estimate(n, req, ctx)).sort(compareEstimates);
  }

  private worthWaiting(busy: TtftEstimate, free: TtftEstimate, req: RoutingRequest, now: number): boolean {
    const o = this.options;
    const margin = Math.max(o.waitMarginMs, o.waitMarginRatio * free.costMs);
    if (busy.costMs + margin >= free.costMs) return false;
    const d = this.deferred.get(req);
    // Give-up, on current estimates: past the promise, the busy estimate has already been wrong by
    // (now − expectedAt); charge it that much again, and wait on only if it still wins.
    if (d && now >= d.giveUpAt && busy.costMs + Math.max(0, now - d.expectedAt) + margin >= free.costMs) return false;
    const budget = req.latencyBudgetMs;
    if (budget !== undefined && budget >= 0) {
      // Counted from arrival, as the scheduler's budget filter counts it (from the first deferral
      // for a request that does not say when it arrived).
      const remaining = budget - (now - (req.arrivedAt ?? d?.since ?? now));
      const pessimistic = busy.ttftMs + (o.budgetWaitSafety - 1) * (busy.slotWaitMs + busy.queuedAheadMs);
      if (free.ttftMs <= remaining && pessimistic > remaining) return false;
    }
    return true;
  }

  private defer(req: RoutingRequest, best: TtftEstimate, bestFree: TtftEstimate | null, now: number): void {
    let d = this.deferred.get(req);
    if (!d) {
      d = { since: now, giveUpAt: Infinity, expectedAt: now + best.slotWaitMs + best.queuedAheadMs + best.loadQueueMs };
      this.deferred.set(req, d);
    }
    // The promise is fixed the first time a free alternative was turned down.
    if (bestFree !== null && d.giveUpAt === Infinity) d.giveUpAt = now + bestFree.ttftMs;
    this.waitersAhead.set(best.node.id, (this.waitersAhead.get(best.node.id) ?? 0) + 1);
  }

  private bind(req: RoutingRequest, node: PoolNode): PoolNode {
    this.deferred.delete(req);
    return node;
  }

  /** Waiters counted in an earlier pass have been bound or re-offered since; start afresh. */
  private beginPass(ctx: RoutingContext): void {
    if (ctx === this.passCtx && ctx.now === this.passNow) return;
    this.passCtx = ctx;
    this.passNow = ctx.now;
    this.waitersAhead.clear();
  }
}

/** Lower cost (TTFT + eviction cost) first; on ties a free node, then lower load, priority value, id. */
function compareEstimates(a: TtftEstimate, b: TtftEstimate): number {
  if (a.costMs !== b.costMs) return a.costMs < b.costMs ? -1 : 1;
  if (a.free !== b.free) return a.free ? -1 : 1;
  return byLoadThenPriority(a.node, b.node);
}

function nonNegative(x: number): number {
  return x > 0 ? x : 0;
}
