import { BackpressureError, type BalancerError, ModelNotFoundError, QueueFullError, type RateLimitedError } from '../errors';
import { Route } from '@ollama-ring/protocol';
import { rateLimited } from '../limits/rate-limiter';
import type { RequestContext } from '../request-context';
import { ModelFallback } from './model-fallback';
import type { SchedulerObserver } from './observer';
import type { AdmissionLimiter, FinishRequest, PoolState } from './pool-state';
import type { RateChecked } from './scheduler-events';

/** What admission needs: the nodes and the queue, and the scheduler's steps it calls. */
export interface AdmissionDeps {
  readonly pool: Pick<PoolState, 'nodes' | 'queue' | 'config'>;
  /** Switches a request to its fallback model. */
  readonly fallbacks: ModelFallback;
  readonly observer?: SchedulerObserver;
  readonly finish: FinishRequest;
  /** Binds what the free slots allow (a request that a free slot takes now is never refused). */
  readonly pump: () => void;
  readonly armQueueTimer: () => void;
  /** A stable tie-breaker for the queue's order. */
  readonly nextSeq: () => number;
  /** The local limits (a shared check that Redis could not answer falls back on them). */
  readonly limiter?: AdmissionLimiter;
}

/**
 * Admission of a validated request into the wait queue: checks some node has its model (switching
 * to the request's `fallback_model` when none has the one asked for; the later switches, when the
 * model's nodes are down or too late, are the slot binder's), and enforces `queue.maxDepth`.
 * Part of the scheduler (single writer); it only runs inside the scheduler's event handling.
 */
export class AdmissionControl {
  constructor(private readonly d: AdmissionDeps) {}

  /**
   * Checks some node has the model, switching to the fallback model if one is given. Ends the
   * request (and returns false) when neither the model nor its fallback is anywhere, or when the
   * body cannot be rewritten for the fallback (the arena is full: BackpressureError, 503).
   */
  resolveModel(ctx: RequestContext): boolean {
    const facts = ctx.facts!;
    const known = (m: string) => [...this.d.pool.nodes.values()].some((n) => n.hasModel(m) && !n.removed);
    if (known(facts.model)) return true;
    const fallback = ModelFallback.of(ctx);
    if (fallback && known(fallback)) {
      if (this.d.fallbacks.switchTo(ctx, fallback, 'not_installed')) return true;
      this.d.observer?.rejected?.('backpressure', 'arena');
      this.d.finish(ctx, 'rejected', new BackpressureError('server busy: no room in the body arena to rewrite the request for its fallback model'));
      return false;
    }
    this.d.observer?.rejected?.('model_not_found', facts.rawModel);
    this.d.finish(ctx, 'client_error', modelNotFound(ctx.route, facts.rawModel));
    return false;
  }

  /** Past the rate limits: the model is checked, and the request waits in the queue. */
  admit(ctx: RequestContext, now: number): void {
    if (this.resolveModel(ctx)) this.enqueue(ctx, now);
  }

  /** The local rate limits, then admission: the memory backend's path, and a shared check Redis could not answer. */
  checkLocally(ctx: RequestContext, now: number): void {
    const limited = this.d.limiter?.check(ctx.clientKey, now);
    if (limited) return this.refuse(ctx, limited);
    this.admit(ctx, now);
  }

  /**
   * Redis's answer on a request's shared global and per-key limits (`state.backend: redis`): refused,
   * admitted, or unanswered (Redis out: the local limits decide). `stopError`: the balancer stopped
   * meanwhile, and the request ends with it.
   */
  onRateChecked(evt: RateChecked, ctx: RequestContext | undefined, now: number, stopError: BalancerError | undefined): void {
    if (!ctx || ctx.state === 'done') return; // aborted while Redis answered
    if (stopError) return this.d.finish(ctx, 'rejected', stopError);
    if (evt.refused) return this.refuse(ctx, rateLimited(evt.refused.limit, evt.refused.retryAfterMs));
    if (evt.unanswered) return this.checkLocally(ctx, now);
    this.admit(ctx, now);
  }

  private refuse(ctx: RequestContext, limited: RateLimitedError): void {
    this.d.observer?.rejected?.('rate_limited', limited.limit);
    this.d.finish(ctx, 'rejected', limited);
  }

  /**
   * Puts a request (new, or back from a retry backoff) in the wait queue, within `queue.maxDepth`.
   * Its deadline is `queue.maxWaitMs` after it first entered the queue: retries do not restart it,
   * so the bound holds over the request's whole life.
   */
  enqueue(ctx: RequestContext, now: number): void {
    const { pool, observer } = this.d;
    // Waited before: back from a retry's backoff, it goes ahead of its key's line (see WaitQueue).
    const retry = ctx.queuedAt !== 0;
    if (!retry) ctx.queuedAt = now;
    ctx.state = 'queued';
    ctx.trace?.queued(retry);
    pool.queue.push({
      requestId: ctx.id,
      priority: ctx.priority,
      deadline: ctx.queuedAt + pool.config.queue.maxWaitMs,
      arrivedAt: ctx.arrivedAt,
      seq: this.d.nextSeq(),
      model: ctx.model,
      requestClass: ctx.requestClass,
      clientKey: ctx.clientKey,
      retry,
      waitingSince: now,
      ctx,
      qTag: 0,
      qPrev: undefined,
      qNext: undefined,
      qFlow: undefined,
      qGone: false,
    });
    if (pool.queue.size > pool.config.queue.maxDepth) {
      // maxDepth bounds the requests that wait: one that a free slot takes now is never refused.
      this.d.pump();
      if (ctx.state === 'queued' && pool.queue.size > pool.config.queue.maxDepth) {
        pool.queue.remove(ctx.id);
        observer?.rejected?.('queue_full');
        this.d.finish(ctx, 'rejected', new QueueFullError());
      }
    }
    observer?.queueChanged?.(pool.queue.depthByModel());
    this.d.armQueueTimer();
  }
}

/**
 * Ollama's not-found text differs by route (ollama-api.md §4). The OpenAI routes are served by the
 * native handlers (§7): chat and completions by /api/chat and /api/generate, embeddings by /api/embed.
 */
export function modelNotFound(route: Route, model: string): ModelNotFoundError {
  const byName = route === Route.Generate || route === Route.Chat || route === Route.OpenAIChat || route === Route.OpenAICompletions;
  return new ModelNotFoundError(model, byName ? undefined : `model "${model}" not found, try pulling it first`);
}
