import type { ByteArena } from '@ollama-ring/disruptor';
import { normalizeModel, toJson } from '@ollama-ring/protocol';
import { PipelineStateError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext } from '../request-context';
import type { RoutingContext } from '../strategies/strategy';
import { type FallbackReason, type HintLimits, aheadMs, bestLatenessMs, shouldFallBack } from './hint-rules';
import type { SchedulerObserver } from './observer';
import type { PoolState, Queued } from './pool-state';

/** What switching a request to its fallback model needs: the nodes, the queue, the body arena. */
export interface FallbackDeps {
  readonly pool: Pick<PoolState, 'nodes' | 'queue'>;
  readonly arena: ByteArena;
  readonly observer?: SchedulerObserver;
}

/**
 * Switches requests to their `fallback_model` (hint or body field), inside the scheduler's event
 * handling and scheduling passes: at admission when no node has the model, and at any offer of a
 * waiting request when the rule of `hint-rules.ts` says its primary cannot be served in time. A
 * switch rewrites the body for the fallback, moves the request's place in the queue to the
 * fallback's model (same priority, deadline and order), remembers the model asked for (the response
 * says it), and is reported to the observer (`fallbacks_total`). It happens at most once a request.
 */
export class ModelFallback {
  constructor(private readonly d: FallbackDeps) {}

  /** The fallback `ctx` may still switch to: its hint's, else its body's; none once it has switched. */
  static of(ctx: RequestContext): string | undefined {
    if (ctx.fallbackFrom !== undefined) return undefined;
    return ctx.hints.fallbackModel ?? ctx.facts?.fallbackModel;
  }

  /** The time `item` has left now, for `model` served by `nodes` (see {@link HintLimits}). */
  limits(item: Queued, nodes: readonly PoolNode[], model: string, now: number, routing: RoutingContext): HintLimits {
    const ctx = item.ctx;
    const budget = ctx.hints.latencyBudgetMs ?? ctx.facts?.latencyBudgetMs;
    return {
      queueLeftMs: item.deadline - now,
      budgetLeftMs: budget === undefined ? undefined : budget - (now - ctx.arrivedAt),
      aheadMs: aheadMs(this.d.pool.queue.countAhead(item.requestId, model), nodes, model, routing),
    };
  }

  /**
   * Offers a waiting request its fallback: switches it when its primary is `primaryLatenessMs` late
   * (Infinity: no routable node has it) and the fallback, on its routable nodes with the request's
   * `tags`, would be less late. Returns the request's queue entry under its new model, or null when
   * it stays with its primary (the fallback is no better, or the arena has no room for the new body).
   */
  consider(item: Queued, fallback: string, primaryLatenessMs: number, reason: FallbackReason, tags: readonly string[], now: number, routing: RoutingContext): Queued | null {
    const ctx = item.ctx;
    const model = normalizeModel(fallback);
    if (primaryLatenessMs <= 0 || model === ctx.model) return null;
    const nodes: PoolNode[] = [];
    for (const n of this.d.pool.nodes.values()) if (!n.removed && n.hasModel(model) && n.hasTags(tags) && n.isRoutable(now)) nodes.push(n);
    if (nodes.length === 0) return null;
    const facts = { ...ctx.facts!, model };
    const late = bestLatenessMs(nodes, facts, this.limits(item, nodes, model, now, routing), routing);
    if (!shouldFallBack(primaryLatenessMs, late) || !this.switchTo(ctx, fallback, reason)) return null;
    const queue = this.d.pool.queue;
    if (!queue.has(item.requestId)) return item;
    // Same place in the queue, new model.
    const moved: Queued = { ...item, model: ctx.model };
    queue.replace(moved);
    this.d.observer?.queueChanged?.(queue.depthByModel());
    return moved;
  }

  /**
   * Switches `ctx` to `fallback`: its body re-encoded for it, the model asked for remembered, the
   * switch reported. False (nothing changed) when the arena has no room for the new body.
   */
  switchTo(ctx: RequestContext, fallback: string, reason: FallbackReason): boolean {
    const primary = ctx.facts!.rawModel;
    const model = ctx.model;
    if (!this.rewriteModel(ctx, fallback)) return false;
    ctx.fallbackFrom = primary;
    this.d.observer?.fellBack?.({ requestId: ctx.id, model, fallback: ctx.model, reason });
    return true;
  }

  /**
   * Re-encodes the body with another model name. The old body is freed first, so its blocks can
   * take the new one: a full arena still fits a body that grew by less than a block. When even that
   * fails the original body is put back (its run was just freed, and only this thread allocates)
   * and the result is false.
   */
  private rewriteModel(ctx: RequestContext, model: string): boolean {
    const arena = this.d.arena;
    const original = Buffer.from(arena.view(ctx.bodyOffset, ctx.bodyLength));
    const body = JSON.parse(original.toString('utf8')) as Record<string, unknown>;
    body.model = model;
    // toJson: the body may nest as deep as validation lets through, past JSON.stringify's reach.
    const bytes = Buffer.from(toJson(body));
    arena.free(ctx.bodyOffset);
    let off = arena.tryAllocCopy(bytes);
    if (off < 0) {
      off = arena.tryAllocCopy(original);
      if (off < 0) throw new PipelineStateError('byte arena: the run of a body just freed could not be taken back');
      ctx.bodyOffset = off;
      return false;
    }
    ctx.bodyOffset = off;
    ctx.bodyLength = bytes.length;
    ctx.facts = { ...ctx.facts!, rawModel: model, model: normalizeModel(model) };
    return true;
  }
}
