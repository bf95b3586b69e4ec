import type { StrategyConfig } from '../config/types';
import { NoAvailableNodeError } from '../errors';
import type { PoolNode } from '../nodes/node';
import { DEFAULT_KEEP_ALIVE_MS } from '../nodes/resident-models';
import type { RequestContext } from '../request-context';
import { complexityOf } from '../stages/validate-request';
import type { RoutingContext, RoutingRequest, Strategy } from '../strategies/strategy';
import { StrategyFactory } from '../strategies/strategy-factory';
import { type HintLimits, bestLatenessMs, budgetCandidates } from './hint-rules';
import { ModelFallback } from './model-fallback';
import type { SchedulerObserver } from './observer';
import type { AdmissionLimiter, FinishRequest, PoolState, Queued } from './pool-state';
import type { Preemption } from './preemption';
import type { SharedSlotGate } from './shared-slots';
import { expectedSlotWaitMs } from './slot-table';

/** What binding needs: the pool's state, the strategies, and the scheduler's steps it calls. */
export interface BinderDeps {
  readonly pool: Pick<PoolState, 'nodes' | 'queue' | 'slots' | 'estimates' | 'strategy' | 'config'>;
  readonly createStrategy: (name: string, settings: StrategyConfig) => Strategy;
  readonly limiter?: AdmissionLimiter;
  /** The slot leases shared with other replicas (absent with the memory backend). */
  readonly shared?: SharedSlotGate;
  /** Switches a request to its fallback model. */
  readonly fallbacks: ModelFallback;
  readonly observer?: SchedulerObserver;
  readonly finish: FinishRequest;
  /** Offers the waiters again in `ms` (a rate-limited node may have a token by then). */
  readonly armReoffer: (ms: number) => void;
  /** Starts the upstream dispatch of a request just bound to `node`. */
  readonly startDispatch: (ctx: RequestContext, node: PoolNode, now: number) => void;
  /** Cuts a running batch line for an interactive request that found no slot. */
  readonly preemption: Preemption;
}

/** How soon waiters are offered again when the nodes they could use are over their rate. */
const RATE_REOFFER_MS = 50;

/** What one offer of a waiting request to the strategy came to. */
export type BindResult = 'bound' | 'wait' | 'failed';

/**
 * Late binding: offers a waiting request to its strategy with the nodes that could serve it now,
 * and binds it to the node chosen — takes the slot, counts the breaker attempt, records whether the
 * target is cold and what that load does to the node's resident models, and starts the dispatch.
 */
export class SlotBinder {
  /** Per-request strategies by canonical name (a custom strategy's own); only names that are strategies. */
  private readonly overrides = new Map<string, Strategy>();
  /** The strategy settings the overrides were made with; a reload that replaces them empties the cache. */
  private overridesOf: StrategyConfig | undefined;
  /**
   * This pass's claims of interactive waiters on nodes: for each node, how many interactive
   * requests left waiting could have been placed there. Kept only in a pass where a batch line
   * waits; otherwise nothing is recorded (and nothing allocated).
   */
  private readonly claims = new Map<PoolNode, number>();
  private claiming = false;

  constructor(private readonly d: BinderDeps) {}

  /** Starts a scheduling pass; `batchWaiting`: some batch line waits, so interactive waiters' claims are recorded. */
  beginPass(batchWaiting: boolean): void {
    this.claiming = batchWaiting;
    if (batchWaiting) this.claims.clear();
    this.d.preemption.beginPass();
  }

  /**
   * Offers `ctx` to its strategy once; binds it when the strategy picks a node with a free slot.
   * The hints every strategy honours are applied here, before the strategy chooses (rules in
   * `hint-rules.ts`): a latency budget narrows the candidates to the nodes predicted to meet it
   * (all of them when none is), and a fallback model is switched to when the model asked for cannot
   * be served (no capable node, none routable, none in time) and the fallback would do better. A
   * request without these hints pays one property test for each.
   */
  tryBind(item: Queued, now: number, routing: RoutingContext): BindResult {
    const d = this.d;
    const ctx = item.ctx;
    const facts = ctx.facts!;
    const req = this.routingRequest(ctx);
    const tags = req.requiredTags;
    const fallback = ModelFallback.of(ctx);
    const capable = [...d.pool.nodes.values()].filter((n) => !n.removed && n.hasModel(facts.model) && n.hasTags(tags));
    if (capable.length === 0) {
      if (fallback !== undefined) {
        const moved = d.fallbacks.consider(item, fallback, Infinity, 'not_installed', tags, now, routing);
        if (moved) return this.tryBind(moved, now, routing);
      }
      d.finish(ctx, 'rejected', new NoAvailableNodeError(`no node has model '${facts.rawModel}' with tags [${tags.join(', ')}]`));
      return 'failed';
    }
    let routable = capable.filter((n) => n.isRoutable(now));
    if (routable.length === 0) {
      if (fallback !== undefined) {
        const moved = d.fallbacks.consider(item, fallback, Infinity, 'unavailable', tags, now, routing);
        if (moved) return this.tryBind(moved, now, routing);
      }
      if (capable.some(mayRecover)) return 'wait';
      d.observer?.rejected?.('no_node', facts.model);
      d.finish(ctx, 'rejected', new NoAvailableNodeError());
      return 'failed';
    }
    // Avoid the nodes that already failed this request, unless nothing else is left.
    const fresh = routable.filter((n) => !ctx.excluded.has(n.id));
    if (fresh.length > 0) routable = fresh;
    // Nodes over their own rate take no request now; offer the strategy only the others, so a
    // request never waits for a rate-limited node while another is free. Replicas sharing Redis
    // take a node's token with its slot's lease (the gate says which nodes Redis last found over
    // their rate); alone, or out of Redis, the local buckets decide.
    const limiter = d.limiter;
    const sharedRates = d.shared?.isShared() === true ? d.shared : undefined;
    // A lease granted to this request's last ask (replicas): its strategy chose that node then,
    // and the lease already carries the node's token.
    const pinned = d.shared?.reservedNode(ctx.id);
    if (sharedRates || limiter?.nodeAvailable) {
      const open = routable.filter((n) => n.id === pinned || (sharedRates ? sharedRates.nodeRateOpen(n.id, now) : limiter!.nodeAvailable!(n.id, now)));
      if (open.length === 0) {
        // Offered again once a token may be there: sooner when Redis said the bucket refills sooner.
        d.armReoffer(sharedRates ? Math.max(1, Math.min(RATE_REOFFER_MS, sharedRates.nodeRateWaitMs(routable, now))) : RATE_REOFFER_MS);
        return 'wait';
      }
      routable = open;
    }
    let limits: HintLimits | undefined;
    if (req.latencyBudgetMs !== undefined) {
      limits = d.fallbacks.limits(item, routable, facts.model, now, routing);
      const budget = budgetCandidates(routable, facts, limits, routing);
      if (!budget.met && fallback !== undefined) {
        const moved = d.fallbacks.consider(item, fallback, bestLatenessMs(routable, facts, limits, routing), 'budget', tags, now, routing);
        if (moved) return this.tryBind(moved, now, routing);
      }
      routable = budget.nodes;
    }
    if (ctx.requestClass === 'batch') {
      routable = this.unclaimed(routable);
      if (routable.length === 0) return 'wait';
    }
    const strategy = this.strategyFor(ctx);
    const node = (pinned !== undefined && routable.find((n) => n.id === pinned)) || strategy.select(routable, req, routing);
    // Replicas: a waiter is its replica's contender for the next slot freed on the nodes it may use.
    const want = d.shared ? { arrivedAt: ctx.arrivedAt, batch: ctx.requestClass === 'batch' } : undefined;
    if (!node || node.freeSlots(facts.model) <= 0) {
      if (want) d.shared!.contend(node ? [node] : routable.filter((n) => n.freeSlots(facts.model) <= 0), want);
      if (ctx.requestClass !== 'batch') {
        if (this.claiming) this.claim(routable);
        // A batch line cut for it frees a slot within moments: nothing to fall back from.
        if (d.preemption.forWaiter(ctx, routable, now, node ?? undefined)) return 'wait';
      }
      if (fallback !== undefined) {
        limits ??= d.fallbacks.limits(item, routable, facts.model, now, routing);
        const moved = d.fallbacks.consider(item, fallback, bestLatenessMs(routable, facts, limits, routing), 'deadline', tags, now, routing);
        if (moved) return this.tryBind(moved, now, routing);
      }
      return 'wait';
    }
    // With replicas, the node's slot needs a lease too (and, sharing Redis, the lease brings the
    // node's token): when none is at hand the gate asks Redis, and the pass after its answer offers
    // this request again.
    if (d.shared && !d.shared.take(node, ctx.id, want)) return 'wait';
    if (!sharedRates && limiter && !limiter.allowNode(node.id, now)) {
      d.shared?.giveBack(ctx.id);
      d.armReoffer(RATE_REOFFER_MS);
      return 'wait';
    }
    this.bind(item, node, now, strategy.name, routable.length);
    return 'bound';
  }

  /**
   * An interactive request left waiting claims one slot on every node it could have been placed on
   * now (the candidates its strategy was offered: capable, routable, open to it, within its latency
   * budget), whether its strategy chose to wait for a busier node or found no slot at all.
   */
  private claim(nodes: readonly PoolNode[]): void {
    for (const n of nodes) this.claims.set(n, (this.claims.get(n) ?? 0) + 1);
  }

  /**
   * A batch line's candidates: every node but those whose free slots are all claimed by interactive
   * waiters. A node with no free slot stays a candidate: its strategy may choose to wait for it (a
   * hot node, say), as for any request; it binds only when a slot frees there and no interactive
   * request wants it.
   */
  private unclaimed(nodes: PoolNode[]): PoolNode[] {
    if (this.claims.size === 0) return nodes;
    return nodes.filter((n) => {
      const free = n.maxConcurrent - n.inFlight;
      return free <= 0 || free > (this.claims.get(n) ?? 0);
    });
  }

  private bind(item: Queued, node: PoolNode, now: number, strategyName: string, candidates: number): void {
    const d = this.d;
    const ctx = item.ctx;
    const facts = ctx.facts!;
    const waited = now - item.waitingSince;
    ctx.queueMs += waited;
    d.observer?.queueWait?.(waited);
    const req = ctx.routing;
    const work = { promptTokens: facts.promptTokens, outputTokens: req?.outputTokens };
    d.pool.slots.acquire(node, ctx.id, facts.model, now, work);
    ctx.trial = node.breaker.onAttempt(now);
    node.totalRequests++;
    ctx.cold = !node.isHot(facts.model, facts.optionsSignature, now);
    this.noteResidency(ctx, node, now);
    // Replicas: the lease carries what its request is, so the others weigh and mirror it too.
    d.shared?.bound(ctx.id, { model: facts.model, optionsSignature: facts.optionsSignature, startedAt: now, work, cold: ctx.cold });
    ctx.state = 'dispatching';
    ctx.nodeId = node.id;
    ctx.trace?.bound(node.id, strategyName, ctx.cold);
    d.observer?.routed?.({
      requestId: ctx.id,
      model: facts.model,
      nodeId: node.id,
      strategy: strategyName,
      cold: ctx.cold,
      queueMs: ctx.queueMs,
      candidates,
    });
    d.observer?.nodeChanged?.(node);
    d.startDispatch(ctx, node, now);
  }

  /**
   * Mirrors what the binding does to the node's resident models. Cold: Ollama evicts what it must
   * (LRU idle first) and loads the model, which is hot there from now on. Hot: the model is used
   * now; if no load of ours is under way there, a real load reported for it later means it had been
   * evicted behind our back (the completion checks).
   */
  private noteResidency(ctx: RequestContext, node: PoolNode, now: number): void {
    const facts = ctx.facts!;
    if (ctx.cold) this.d.observer?.coldLoad?.(node.id, facts.model);
    else if (now >= (node.loaded.get(facts.model)?.readyAt ?? 0)) node.residency.hotBound.set(ctx.id, node.residentModels(now).length);
    node.mirrorBinding(facts.model, facts.optionsSignature, ctx.cold, now, now + DEFAULT_KEEP_ALIVE_MS, this.d.pool.estimates.loadMs(node.id, facts.model));
  }

  /**
   * The request's routing facts, built once and reused on every re-offer: strategies recognise a
   * request they told to wait by this object (to give up waiting, or to charge its wait to a budget).
   */
  private routingRequest(ctx: RequestContext): RoutingRequest {
    if (ctx.routing && ctx.routing.model === ctx.facts!.model) return ctx.routing;
    const facts = ctx.facts!;
    ctx.routing = {
      model: facts.model,
      optionsSignature: facts.optionsSignature,
      promptTokens: facts.promptTokens,
      outputTokens: facts.outputTokens,
      requiredTags: [...new Set([...(ctx.hints.tags ?? []), ...facts.tags])],
      priority: ctx.priority,
      latencyBudgetMs: ctx.hints.latencyBudgetMs ?? facts.latencyBudgetMs,
      arrivedAt: ctx.arrivedAt,
      complexity: complexityOf(ctx.hints.complexity) ?? facts.complexity,
      clientKey: ctx.clientKey,
    };
    return ctx.routing;
  }

  private strategyFor(ctx: RequestContext): Strategy {
    const pool = this.d.pool;
    const name = ctx.hints.strategy ?? ctx.facts?.strategy;
    if (!name) return pool.strategy;
    // Keyed by the canonical name, and unknown names not kept: the name comes from the client, who
    // may spell a strategy many ways (' Round_Robin') or send a new name with every request.
    const key = StrategyFactory.resolve(name) ?? name;
    const settings = pool.config.strategy;
    if (this.overridesOf !== settings) {
      this.overrides.clear();
      this.overridesOf = settings;
    }
    let strategy = this.overrides.get(key);
    if (strategy === undefined) {
      try {
        strategy = this.d.createStrategy(name, settings);
      } catch {
        // An unknown per-request strategy falls back to the pool's current one (not the one at the time).
        return pool.strategy;
      }
      this.overrides.set(key, strategy);
    }
    return strategy;
  }

  /** Drops the per-request strategies built so far: the config's strategy settings changed. */
  forgetStrategies(): void {
    this.overrides.clear();
  }

  /** One routing context per scheduling pass (strategies count their own deferrals within a pass). */
  routingContext(now: number): RoutingContext {
    const { slots, queue, estimates: est } = this.d.pool;
    return {
      now,
      estimates: est,
      expectedSlotWaitMs: (node, model) => expectedSlotWaitMs(node, model, slots, est, now, this.d.shared?.remote),
      waitingFor: (node, model) => {
        let n = 0;
        let own = false;
        for (const l of node.residentModels(now)) {
          n += queue.depthFor(l.model);
          own ||= l.model === model;
        }
        // The request being routed (`model` normalised, as in RoutingRequest) is in the queue too; it
        // is not waiting on itself.
        return own ? Math.max(0, n - 1) : n;
      },
    };
  }
}

/** A node that is down for now but may come back within a request's wait. */
function mayRecover(n: PoolNode): boolean {
  return n.spec.enabled && !n.adminDisabled && !n.draining;
}
