import type { ByteArena } from '@ollama-ring/disruptor';
import type { BalancerConfig } from '../config/types';
import { BackpressureError, type BalancerError, type RateLimitedError, ValidationError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext, RequestTable } from '../request-context';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { DispatchPort } from '../stages/dispatch-types';
import type { RequestFacts, RequestRejection } from '../stages/request-facts';
import type { Strategy } from '../strategies/strategy';
import { AdmissionControl } from './admission-control';
import { CompletionHandler } from './completion-handler';
import { DispatchStarter } from './dispatch-starter';
import type { Estimates } from './estimates';
import type { Outcome, SchedulerObserver } from './observer';
import { SlotBinder } from './slot-binder';
import { SlotTable } from './slot-table';
import { WaitQueue, type Waiting } from './wait-queue';
import { WaitTimers } from './wait-timers';

export { modelNotFound } from './admission-control';

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

/** A waiting request as the wait queue holds it. */
export interface Queued extends Waiting {
  ctx: RequestContext;
  /** Epoch ms when this stay in the queue began (a retry starts a new stay; `ctx.queuedAt` is the first). */
  waitingSince: number;
}

/** Events the scheduler applies in order; everything that changes pool state arrives as one. */
export type ControlEvent =
  | { type: 'completion'; ctx: RequestContext; nodeId: string; outcome: DispatchOutcome }
  | { type: 'abort'; requestId: number; error: BalancerError }
  | { type: 'apply'; label: string; fn: (s: Scheduler) => void };

/** How often waiting requests are re-offered to the strategy when no slot has freed. */
const REOFFER_MS = 100;

/**
 * The single writer of pool state: nodes, slots, the wait queue, breakers, estimates and limits.
 * It admits validated requests, binds them late (when a slot frees, not when they arrive) to the
 * node the strategy picks, starts their dispatch, and applies every completion, abort, health
 * result, discovery result, reload and admin command, in order, as an event.
 *
 * This class holds the state and the event loop; each step of a request's life is its own part:
 * {@link AdmissionControl} (model, fallback, queue depth), {@link SlotBinder} (late binding),
 * {@link DispatchStarter} (upstream dispatch and its timeouts), {@link CompletionHandler}
 * (completions, retries, aborts) and {@link WaitTimers} (queue deadlines and re-offers).
 */
export class Scheduler {
  readonly nodes = new Map<string, PoolNode>();
  readonly queue = new WaitQueue<Queued>();
  readonly slots = new SlotTable();
  config: BalancerConfig;
  strategy: Strategy;
  readonly estimates: Estimates;
  /** @internal The collaborators the scheduler was built with (its parts use them). */
  readonly deps: SchedulerDeps;
  /** @internal The scheduler's clock (epoch ms). */
  readonly now: () => number;
  /** @internal */
  readonly admission = new AdmissionControl(this);
  /** @internal */
  readonly binder = new SlotBinder(this);
  /** @internal */
  readonly dispatcher = new DispatchStarter(this);
  /** @internal */
  readonly completions = new CompletionHandler(this);
  /** @internal */
  readonly timers = new WaitTimers(this);
  private readonly control: ControlEvent[] = [];
  private drainScheduled = false;
  private draining = false;
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

  /**
   * Queues a control event; they are applied in order once the current task's synchronous work is
   * done (a microtask), so that events posted together are applied together. Not a loop turn
   * later: a completion frees its slot, and ends the client's response, before any other socket is
   * read — on a busy loop a turn is milliseconds, and a client's next request would find its own
   * last one still counted.
   */
  post(evt: ControlEvent): void {
    this.control.push(evt);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      // A promise job rather than queueMicrotask: the same microtask, but one that fake timers
      // (jest's included) leave real, so tests still see events applied when the code would.
      void Promise.resolve().then(this.drainNow);
    }
  }

  private readonly drainNow = (): void => this.drain();

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
            this.completions.onCompletion(evt.ctx, evt.nodeId, evt.outcome);
            break;
          case 'abort':
            this.completions.onAbort(evt.requestId, evt.error);
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
    if (!this.admission.resolveModel(ctx)) return;
    this.admission.enqueue(ctx, now);
    this.pump();
  }

  // ---------------------------------------------------------------- binding

  /** Binds as many waiting requests as the free slots allow, in queue order. */
  pump(): void {
    if (this.stopped) return;
    const now = this.now();
    let bound = false;
    // One routing context per pass: the predictive strategy counts the requests it has told to wait
    // for a node within a pass, so that a queue does not pile onto one busy node.
    const routing = this.binder.routingContext(now);
    for (const item of this.queue.inOrder()) {
      if (this.freeSlotsAnywhere() === 0) break;
      const r = this.binder.tryBind(item, now, routing);
      if (r === 'bound' || r === 'failed') {
        this.queue.remove(item.requestId);
        bound = true;
      }
    }
    if (bound) this.deps.observer?.queueChanged?.(this.queue.depthByModel());
    // Expire after binding: a waiter that a slot can take now is served, not timed out (so with
    // queue.maxWaitMs 0 a request with a free slot still runs, and one without fails at once).
    this.timers.expireWaiters(now);
    this.timers.armQueueTimer();
    // Waiters are re-offered now and then even when no slot frees: estimates age, and a strategy
    // that chose to wait for a busy node may give up on it.
    if (this.queue.size > 0) this.timers.armRepump(REOFFER_MS);
  }

  // ---------------------------------------------------------------- the end of a request

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

  // ---------------------------------------------------------------- pool membership and lifecycle

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

  /** @internal A stable tie-breaker for the wait queue's order. */
  nextSeq(): number {
    return ++this.seq;
  }

  /** Whether stop() has run: nothing binds, retries or arms timers any more. */
  isStopped(): boolean {
    return this.stopped;
  }

  /** Stops binding and timers; fails everything still waiting with `error`. In-flight requests are left to finish. */
  stop(error: BalancerError): void {
    this.stopped = true;
    this.stopError = error;
    this.timers.clear();
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

  private freeSlotsAnywhere(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += Math.max(0, node.maxConcurrent - node.inFlight);
    return n;
  }
}
