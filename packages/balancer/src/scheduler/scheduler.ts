import type { ByteArena } from '@ollama-ring/disruptor';
import type { BalancerConfig } from '../config/types';
import { Route } from '../events';
import {
  BackpressureError,
  type BalancerError,
  ModelNotFoundError,
  NoAvailableNodeError,
  QueueFullError,
  QueueTimeoutError,
  RateLimitedError,
  RequestAbortedError,
  UpstreamError,
  UpstreamTimeoutError,
  ValidationError,
} from '../errors';
import { normalizeModel } from '../model-names';
import type { PoolNode } from '../nodes/node';
import type { RequestContext, RequestTable } from '../request-context';
import { judge } from '../stages/completion';
import type { DispatchOutcome } from '../stages/dispatch';
import type { DispatchPort } from '../stages/dispatch-port';
import type { RequestFacts, RequestRejection } from '../stages/request-facts';
import type { RoutingContext, RoutingRequest, Strategy } from '../strategies/strategy';
import type { Estimates } from './estimates';
import type { Outcome, SchedulerObserver } from './observer';
import { untilSignal } from '../until-signal';
import { backoffMs } from './retry-policy';
import { SlotTable, expectedSlotWaitMs } from './slot-table';
import { WaitQueue, type Waiting } from './wait-queue';

/** Admission and per-node rate limits, as the scheduler consults them. */
export interface AdmissionLimiter {
  /** Global and per-client limits at admission; the error to reject with, or null. */
  check(clientKey: string | undefined, now: number): RateLimitedError | null;
  /** Takes a token from a node's bucket; false when the node is over its rate now. */
  allowNode(nodeId: string, now: number): boolean;
  /** Whether a node has a token now, without taking it (filters candidates before the strategy picks). */
  nodeAvailable?(nodeId: string, now: number): boolean;
}

export interface SchedulerDeps {
  config: BalancerConfig;
  table: RequestTable;
  arena: ByteArena;
  dispatcher: DispatchPort;
  estimates: Estimates;
  createStrategy: (name: string) => Strategy;
  limiter?: AdmissionLimiter;
  observer?: SchedulerObserver;
  now?: () => number;
}

interface Queued extends Waiting {
  ctx: RequestContext;
}

/** Events the scheduler applies in order; everything that changes pool state arrives as one. */
export type ControlEvent =
  | { type: 'completion'; ctx: RequestContext; nodeId: string; outcome: DispatchOutcome }
  | { type: 'abort'; requestId: number; error: BalancerError }
  | { type: 'apply'; label: string; fn: (s: Scheduler) => void };

/** How often waiting requests are re-offered to the strategy when no slot has freed. */
const REOFFER_MS = 100;

/** How long Ollama keeps a model loaded when the request does not say (its default). */
const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/**
 * The single writer of pool state: nodes, slots, the wait queue, breakers, estimates and limits.
 * It admits validated requests, binds them late (when a slot frees, not when they arrive) to the
 * node the strategy picks, starts their dispatch, and applies every completion, abort, health
 * result, discovery result, reload and admin command, in order, as an event.
 */
export class Scheduler {
  readonly nodes = new Map<string, PoolNode>();
  readonly queue = new WaitQueue<Queued>();
  readonly slots = new SlotTable();
  config: BalancerConfig;
  strategy: Strategy;
  readonly estimates: Estimates;
  private readonly deps: SchedulerDeps;
  private readonly now: () => number;
  /** Per-request strategies by name; null for a name that is not a strategy (the pool's is used). */
  private readonly overrides = new Map<string, Strategy | null>();
  private readonly control: ControlEvent[] = [];
  private drainScheduled = false;
  private draining = false;
  private queueTimer: NodeJS.Timeout | undefined;
  private queueTimerAt = Infinity;
  private repumpTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private stopped = false;
  private stopError: BalancerError | undefined;
  /** Requests admitted and not yet ended (queued, in backoff, or in flight). */
  private live = 0;

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.estimates = deps.estimates;
    this.now = deps.now ?? Date.now;
    this.strategy = deps.createStrategy(deps.config.strategy.type);
  }

  // ---------------------------------------------------------------- events in

  /** Queues a control event; they are applied in order on the next turn of the event loop. */
  post(evt: ControlEvent): void {
    this.control.push(evt);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Applies every queued control event now (the scheduler stage also calls this per batch). */
  drain(): void {
    this.drainScheduled = false;
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.control.length > 0) {
        const evt = this.control.shift()!;
        switch (evt.type) {
          case 'completion':
            this.onCompletion(evt.ctx, evt.nodeId, evt.outcome);
            break;
          case 'abort':
            this.onAbort(evt.requestId, evt.error);
            break;
          case 'apply':
            evt.fn(this);
            break;
        }
      }
    } finally {
      this.draining = false;
    }
    this.pump();
  }

  /**
   * Admission control for a request that is about to enter the ring: refuses it at once when the
   * balancer already holds `maxGlobalInFlight` requests. Called by the front (same thread).
   */
  admitOrThrow(): void {
    if (this.stopped) throw new BackpressureError('the pipeline is shutting down');
    if (this.live >= this.config.disruptor.maxGlobalInFlight) {
      this.deps.observer?.rejected?.('backpressure', 'maxGlobalInFlight');
      throw new BackpressureError(`server busy: ${this.live} requests in progress (maxGlobalInFlight)`);
    }
    this.live++;
  }

  /** The front could not publish after `admitOrThrow` (ring full): give the place back. */
  unadmit(): void {
    this.live = Math.max(0, this.live - 1);
  }

  /** A request has passed validation (or failed it); called by the scheduler stage for each event. */
  onValidated(ctx: RequestContext, verdict: RequestFacts | RequestRejection): void {
    if (ctx.state === 'done') return;
    if (this.stopped) {
      // Still in the ring when stop() ran: end it now, as stop() ended the waiters.
      this.finish(ctx, 'rejected', this.stopError ?? new BackpressureError('the pipeline is shutting down'));
      return;
    }
    if ('status' in verdict) {
      this.deps.observer?.rejected?.('validation', verdict.message);
      this.finish(ctx, 'rejected', new ValidationError(verdict.message, verdict.status));
      return;
    }
    ctx.facts = verdict;
    const now = this.now();
    const limited = this.deps.limiter?.check(ctx.clientKey, now);
    if (limited) {
      this.deps.observer?.rejected?.('rate_limited', limited.limit);
      this.finish(ctx, 'rejected', limited);
      return;
    }
    if (!this.resolveModel(ctx)) return;
    this.enqueue(ctx, now);
    this.pump();
  }

  // ---------------------------------------------------------------- admission

  /** Checks some node has the model, switching to the fallback model if one is given. */
  private resolveModel(ctx: RequestContext): boolean {
    const facts = ctx.facts!;
    const known = (m: string) => [...this.nodes.values()].some((n) => n.hasModel(m) && !this.isRemoved(n));
    if (known(facts.model)) return true;
    const fallback = ctx.hints.fallbackModel ?? facts.fallbackModel;
    if (fallback && known(fallback)) {
      this.rewriteModel(ctx, fallback);
      return true;
    }
    this.deps.observer?.rejected?.('model_not_found', facts.rawModel);
    this.finish(ctx, 'client_error', modelNotFound(ctx.route, facts.rawModel));
    return false;
  }

  /** Re-encodes the body with another model name (a fallback), in a fresh arena allocation. */
  private rewriteModel(ctx: RequestContext, model: string): void {
    const arena = this.deps.arena;
    const body = JSON.parse(Buffer.from(arena.view(ctx.bodyOffset, ctx.bodyLength)).toString('utf8')) as Record<string, unknown>;
    body.model = model;
    const bytes = Buffer.from(JSON.stringify(body));
    const off = arena.tryAllocCopy(bytes);
    if (off < 0) return; // arena full: keep the original body; the node will answer 404 itself
    arena.free(ctx.bodyOffset);
    ctx.bodyOffset = off;
    ctx.bodyLength = bytes.length;
    ctx.facts = { ...ctx.facts!, rawModel: model, model: normalizeModel(model) };
  }

  private enqueue(ctx: RequestContext, now: number): void {
    if (ctx.queuedAt === 0) ctx.queuedAt = now;
    ctx.state = 'queued';
    this.queue.push({
      requestId: ctx.id,
      priority: ctx.priority,
      deadline: ctx.queuedAt + this.config.queue.maxWaitMs,
      arrivedAt: ctx.arrivedAt,
      seq: ++this.seq,
      model: ctx.model,
      ctx,
    });
    if (this.queue.size > this.config.queue.maxDepth) {
      // maxDepth bounds the requests that wait: one that a free slot takes now is never refused.
      this.pump();
      if (ctx.state === 'queued' && this.queue.size > this.config.queue.maxDepth) {
        this.queue.remove(ctx.id);
        this.deps.observer?.rejected?.('queue_full');
        this.finish(ctx, 'rejected', new QueueFullError());
      }
    }
    this.deps.observer?.queueChanged?.(this.queue.depthByModel());
    this.armQueueTimer();
  }

  // ---------------------------------------------------------------- binding

  /** Binds as many waiting requests as the free slots allow, in queue order. */
  pump(): void {
    if (this.stopped) return;
    const now = this.now();
    let bound = false;
    // One routing context per pass: the predictive strategy counts the requests it has told to wait
    // for a node within a pass, so that a queue does not pile onto one busy node.
    const routing = this.routingContext(now);
    for (const item of this.queue.inOrder()) {
      if (this.freeSlotsAnywhere() === 0) break;
      const r = this.tryBind(item.ctx, now, routing);
      if (r === 'bound' || r === 'failed') {
        this.queue.remove(item.requestId);
        bound = true;
      }
    }
    if (bound) this.deps.observer?.queueChanged?.(this.queue.depthByModel());
    // Expire after binding: a waiter that a slot can take now is served, not timed out (so with
    // queue.maxWaitMs 0 a request with a free slot still runs, and one without fails at once).
    this.expireWaiters(now);
    this.armQueueTimer();
    // Waiters are re-offered now and then even when no slot frees: estimates age, and a strategy
    // that chose to wait for a busy node may give up on it.
    if (this.queue.size > 0) this.armRepump(REOFFER_MS);
  }

  private tryBind(ctx: RequestContext, now: number, routing: RoutingContext): 'bound' | 'wait' | 'failed' {
    const facts = ctx.facts!;
    const req = this.routingRequest(ctx);
    const tags = req.requiredTags;
    const capable = [...this.nodes.values()].filter((n) => !this.isRemoved(n) && n.hasModel(facts.model) && n.hasTags(tags));
    if (capable.length === 0) {
      this.finish(ctx, 'rejected', new NoAvailableNodeError(`no node has model '${facts.rawModel}' with tags [${tags.join(', ')}]`));
      return 'failed';
    }
    let routable = capable.filter((n) => n.isRoutable(now));
    if (routable.length === 0) {
      if (capable.some((n) => this.mayRecover(n))) return 'wait';
      this.deps.observer?.rejected?.('no_node', facts.model);
      this.finish(ctx, 'rejected', new NoAvailableNodeError());
      return 'failed';
    }
    // Avoid the nodes that already failed this request, unless nothing else is left.
    const fresh = routable.filter((n) => !ctx.excluded.has(n.id));
    if (fresh.length > 0) routable = fresh;
    // Nodes over their own rate take no request now; offer the strategy only the others, so a
    // request never waits for a rate-limited node while another is free.
    const limiter = this.deps.limiter;
    if (limiter?.nodeAvailable) {
      const open = routable.filter((n) => limiter.nodeAvailable!(n.id, now));
      if (open.length === 0) {
        this.armRepump(50);
        return 'wait';
      }
      routable = open;
    }
    const strategy = this.strategyFor(ctx);
    const node = strategy.select(routable, req, routing);
    if (!node || node.freeSlots(facts.model) <= 0) return 'wait';
    if (this.deps.limiter && !this.deps.limiter.allowNode(node.id, now)) {
      this.armRepump(50);
      return 'wait';
    }
    this.bind(ctx, node, now, strategy.name, routable.length);
    return 'bound';
  }

  private bind(ctx: RequestContext, node: PoolNode, now: number, strategyName: string, candidates: number): void {
    const facts = ctx.facts!;
    const waited = now - (ctx.queuedAt || now);
    ctx.queueMs += waited;
    ctx.queuedAt = 0;
    this.deps.observer?.queueWait?.(waited);
    this.slots.acquire(node, ctx.id, facts.model, now);
    node.breaker.onAttempt(now);
    ctx.trial = node.breaker.state === 'half-open';
    node.totalRequests++;
    ctx.cold = !node.isHot(facts.model, facts.optionsSignature, now);
    if (ctx.cold) this.deps.observer?.coldLoad?.(node.id, facts.model);
    // Ollama loads the model for this request; treat it as hot there from now on.
    node.loaded.set(facts.model, {
      model: facts.model,
      optionsSignature: facts.optionsSignature,
      expiresAt: now + DEFAULT_KEEP_ALIVE_MS,
    });
    ctx.state = 'dispatching';
    ctx.nodeId = node.id;
    this.deps.observer?.routed?.({
      requestId: ctx.id,
      model: facts.model,
      nodeId: node.id,
      strategy: strategyName,
      cold: ctx.cold,
      queueMs: ctx.queueMs,
      candidates,
    });
    this.deps.observer?.nodeChanged?.(node);
    this.startDispatch(ctx, node, now);
  }

  private startDispatch(ctx: RequestContext, node: PoolNode, now: number): void {
    const t = this.config.timeouts;
    const facts = ctx.facts!;
    const ac = new AbortController();
    ctx.upstreamAbort = ac;
    const totalMs = Math.max(1_000, t.requestTimeoutMs - (now - ctx.arrivedAt));
    // A cold target sends nothing until the model has loaded: allow for the load we expect there.
    const coldAllowance = ctx.cold ? 2 * this.estimates.loadMs(node.id, facts.model) : 0;
    // Without streaming, Ollama sends its headers only with the whole answer.
    const firstByteMs = facts.stream ? Math.min(totalMs, t.firstByteTimeoutMs + coldAllowance) : totalMs;
    const sink = ctx.sink;
    void this.deps.dispatcher
      .dispatch({
        requestId: ctx.id,
        nodeId: node.id,
        route: ctx.route,
        body: this.deps.arena.view(ctx.bodyOffset, ctx.bodyLength),
        timeouts: { firstByteMs, idleMs: t.idleTimeoutMs, totalMs },
        signal: ac.signal,
        sink: {
          onStart: (status, headers) => {
            ctx.started = true;
            ctx.firstByteAt = this.now();
            sink.onStart({ nodeId: node.id, status, headers, queueMs: ctx.queueMs, retries: ctx.retries });
          },
          onChunk: (chunk) => sink.onChunk(chunk),
          // A reader that has gone (a stream left early) never drains: the abort must still free dispatch.
          drained: sink.drained ? () => untilSignal(sink.drained!(), ac.signal) : undefined,
        },
      })
      .then(
        (outcome) => this.post({ type: 'completion', ctx, nodeId: node.id, outcome }),
        (err: unknown) =>
          this.post({
            type: 'completion',
            ctx,
            nodeId: node.id,
            outcome: { kind: 'failed', error: asUpstream(node.id, err), started: ctx.started, refused: false, latencyMs: 0, ttftMs: 0 },
          }),
      );
  }

  // ---------------------------------------------------------------- completion

  private onCompletion(ctx: RequestContext, nodeId: string, outcome: DispatchOutcome): void {
    const now = this.now();
    const node = this.nodes.get(nodeId);
    if (node) this.slots.release(node, ctx.id);
    ctx.upstreamAbort = undefined;
    const v = judge(nodeId, outcome);
    if (node) {
      // Neither success nor failure (an abort, a 4xx) gives back a trial place, if it held one.
      const neutral = outcome.kind === 'aborted' || (outcome.kind === 'http-error' && !v.nodeFailure);
      if (neutral) {
        if (ctx.trial) node.breaker.onTrialAbandoned();
      } else if (v.nodeFailure) {
        node.failedRequests++;
        node.lastError = v.error?.message ?? '';
        this.estimates.recordFailure(nodeId);
        if (v.nodeDown) {
          // A refused connection is proof enough: no need to wait for the next health check.
          node.breaker.trip(now);
          node.health = 'UNHEALTHY';
          node.loaded.clear();
        } else node.breaker.onFailure(now);
      } else node.breaker.onSuccess();
      ctx.trial = false;
      if (v.error instanceof UpstreamTimeoutError) this.deps.observer?.timeout?.(v.error.phase);
      if (outcome.kind === 'ok' && !v.nodeFailure) {
        // Not for an in-band error: it is a failure, already recorded above, and no sample of speed.
        this.estimates.recordCompletion(nodeId, ctx.model, outcome.final, { ttftMs: outcome.ttftMs, latencyMs: outcome.latencyMs });
      }
      if (node.draining && node.inFlight === 0 && this.isRemoved(node)) this.dropNode(node);
      else this.deps.observer?.nodeChanged?.(node);
    }
    if (ctx.state === 'done') return;
    if (ctx.abortReason) {
      this.finish(ctx, 'aborted', ctx.abortReason, outcome);
      return;
    }
    if (v.modelMissing) {
      node?.missingModels.add(ctx.model);
      // Only worth another try if some other node still claims the model.
      const elsewhere = [...this.nodes.values()].some((n) => n.id !== nodeId && !n.removed && n.hasModel(ctx.model));
      if (!elsewhere) {
        this.finish(ctx, v.outcome, v.error, outcome);
        return;
      }
    }
    if (v.retryable && !ctx.started && ctx.retries < this.config.retry.maxRetries && !this.stopped) {
      ctx.retries++;
      ctx.excluded.add(nodeId);
      ctx.lastError = v.error;
      this.deps.observer?.retry?.(nodeId, ctx.id, v.error?.message ?? 'retry');
      ctx.state = 'backoff';
      ctx.nodeId = undefined;
      ctx.backoffTimer = setTimeout(() => {
        ctx.backoffTimer = undefined;
        this.post({
          type: 'apply',
          label: 'retry',
          fn: (s) => {
            if (ctx.state === 'backoff') s.enqueue(ctx, s.now());
          },
        });
      }, backoffMs(this.config.retry, ctx.retries));
      return;
    }
    this.finish(ctx, v.outcome, v.error, outcome);
  }

  private onAbort(requestId: number, error: BalancerError): void {
    const ctx = this.deps.table.get(requestId);
    if (!ctx || ctx.state === 'done') return;
    switch (ctx.state) {
      case 'dispatching':
        // The completion event that follows frees the slot; the request ends there.
        ctx.abortReason = error;
        ctx.upstreamAbort?.abort(error);
        return;
      case 'queued':
        this.queue.remove(requestId);
        this.deps.observer?.queueChanged?.(this.queue.depthByModel());
        break;
      case 'backoff':
        clearTimeout(ctx.backoffTimer);
        break;
      default:
        break;
    }
    this.finish(ctx, error instanceof RequestAbortedError ? 'aborted' : 'timeout', error);
  }

  /** Ends a request exactly once: tells the sink, frees its body, forgets it. */
  finish(ctx: RequestContext, outcome: Outcome, error?: BalancerError, dispatch?: DispatchOutcome): void {
    if (ctx.state === 'done') return;
    ctx.state = 'done';
    clearTimeout(ctx.backoffTimer);
    ctx.detachAbort?.();
    this.deps.table.delete(ctx.id);
    this.deps.arena.free(ctx.bodyOffset);
    this.live = Math.max(0, this.live - 1);
    const ok = dispatch?.kind === 'ok' ? dispatch : undefined;
    try {
      if (error) ctx.sink.onError(error, ctx.started);
      else ctx.sink.onEnd({ final: ok?.final, ttftMs: ok?.ttftMs ?? 0, latencyMs: ok?.latencyMs ?? 0 });
    } catch (e) {
      // A sink that throws must not take the scheduler down with it.
      process.emitWarning(`response sink threw: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.deps.observer?.requestEnded?.({
      requestId: ctx.id,
      model: ctx.model,
      nodeId: ctx.nodeId ?? '',
      outcome,
      errorCode: error?.code,
      latencyMs: this.now() - ctx.arrivedAt,
      ttftMs: ctx.firstByteAt ? ctx.firstByteAt - ctx.arrivedAt : 0,
      queueMs: ctx.queueMs,
      retries: ctx.retries,
      evalTokens: ok?.final?.evalTokens ?? 0,
    });
  }

  // ---------------------------------------------------------------- timers

  private expireWaiters(now: number): void {
    let expired = false;
    for (const item of this.queue.inOrder()) {
      if (item.deadline > now) continue;
      this.queue.remove(item.requestId);
      expired = true;
      this.deps.observer?.timeout?.('queue');
      this.deps.observer?.rejected?.('queue_timeout');
      const waited = now - item.ctx.queuedAt;
      item.ctx.queueMs += waited;
      this.finish(item.ctx, 'timeout', item.ctx.lastError ?? new QueueTimeoutError(waited));
    }
    if (expired) this.deps.observer?.queueChanged?.(this.queue.depthByModel());
  }

  private armQueueTimer(): void {
    const at = this.queue.earliestDeadline();
    if (at === this.queueTimerAt) return;
    clearTimeout(this.queueTimer);
    this.queueTimerAt = at;
    this.queueTimer = undefined;
    if (at === Infinity || this.stopped) return;
    this.queueTimer = setTimeout(() => {
      this.queueTimerAt = Infinity;
      this.post({ type: 'apply', label: 'queue-timer', fn: () => undefined });
    }, Math.max(0, at - this.now()) + 1);
  }

  private armRepump(ms: number): void {
    if (this.repumpTimer) return;
    this.repumpTimer = setTimeout(() => {
      this.repumpTimer = undefined;
      this.post({ type: 'apply', label: 'repump', fn: () => undefined });
    }, ms);
  }

  // ---------------------------------------------------------------- helpers

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
      requiredTags: [...new Set([...(ctx.hints.tags ?? []), ...facts.tags])],
      priority: ctx.priority,
      latencyBudgetMs: ctx.hints.latencyBudgetMs ?? facts.latencyBudgetMs,
      clientKey: ctx.clientKey,
    };
    return ctx.routing;
  }

  private strategyFor(ctx: RequestContext): Strategy {
    const name = ctx.hints.strategy ?? ctx.facts?.strategy;
    if (!name) return this.strategy;
    let s = this.overrides.get(name);
    if (s === undefined) {
      try {
        s = this.deps.createStrategy(name);
      } catch {
        s = null;
      }
      this.overrides.set(name, s);
    }
    // An unknown per-request strategy falls back to the pool's current one (not the one at the time).
    return s ?? this.strategy;
  }

  private routingContext(now: number): RoutingContext {
    const est = this.estimates;
    return {
      now,
      estimates: est,
      expectedSlotWaitMs: (node, model) => expectedSlotWaitMs(node, model, this.slots, est.serviceMs(node.id, model), now),
    };
  }

  private freeSlotsAnywhere(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += Math.max(0, node.maxConcurrent - node.inFlight);
    return n;
  }

  /** A node that is down for now but may come back within a request's wait. */
  private mayRecover(n: PoolNode): boolean {
    return n.spec.enabled && !n.adminDisabled && !n.draining;
  }

  /** Marked for removal by a reload or the admin API; kept only until its requests finish. */
  isRemoved(n: PoolNode): boolean {
    return n.removed;
  }

  /** Forgets a removed node once it has nothing in flight. */
  dropNode(n: PoolNode): void {
    this.nodes.delete(n.id);
    this.slots.dropNode(n.id);
    this.deps.observer?.nodeRemoved?.(n.id);
    this.syncDispatcher();
  }

  /** Keeps the dispatcher's connection pools in step with the node list. */
  syncDispatcher(): void {
    this.deps.dispatcher.setNodes(
      [...this.nodes.values()].map((n) => ({ id: n.id, url: n.url, connections: n.maxConcurrent })),
    );
  }

  /** Requests admitted and not yet ended. */
  liveCount(): number {
    return this.live;
  }

  /** Stops binding and timers; fails everything still waiting with `error`. In-flight requests are left to finish. */
  stop(error: BalancerError): void {
    this.stopped = true;
    this.stopError = error;
    clearTimeout(this.queueTimer);
    clearTimeout(this.repumpTimer);
    this.queueTimer = this.repumpTimer = undefined;
    for (const item of this.queue.inOrder()) {
      this.queue.remove(item.requestId);
      this.finish(item.ctx, 'rejected', error);
    }
    for (const ctx of [...this.deps.table.values()]) {
      if (ctx.state === 'backoff') this.finish(ctx, 'rejected', error);
    }
  }

  /** Aborts every request still in flight (end of a shutdown grace period). */
  abortAll(error: BalancerError): void {
    for (const ctx of [...this.deps.table.values()]) this.post({ type: 'abort', requestId: ctx.id, error });
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


function asUpstream(nodeId: string, err: unknown): UpstreamError {
  return new UpstreamError(nodeId, 0, `dispatch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
