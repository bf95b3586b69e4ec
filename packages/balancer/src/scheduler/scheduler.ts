import type { BalancerConfig } from '../config/types';
import { BackpressureError, type BalancerError, ValidationError } from '../errors';
import { addNode, applyConfig, applyDiscovery, applyHealth, applyNodeCommand, applyResources, removeNode, sameStrategySettings, withRuntimeNodes } from '../nodes/node-events';
import type { PoolNode } from '../nodes/node';
import { snapshotNode } from '../nodes/node-snapshot';
import type { RequestClass } from '../request-class';
import type { RequestContext } from '../request-context';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { Strategy } from '../strategies/strategy';
import { AdmissionControl } from './admission-control';
import { ClientKeys } from './client-keys';
import { CompletionHandler } from './completion-handler';
import { DispatchStarter } from './dispatch-starter';
import { EventInbox } from './event-inbox';
import { type LeaseCounts, Leases } from './leases';
import { ModelFallback } from './model-fallback';
import type { Estimates } from './estimates';
import type { Outcome } from './observer';
import type { PoolState, Queued, SchedulerPort } from './pool-state';
import type { ConfigReloaded, LeaseRequested, RequestValidated, SchedulerEvent } from './scheduler-events';
import type { SchedulerDeps } from './scheduler-deps';
import { Preemption } from './preemption';
import { endRequest } from './request-end';
import { SlotBinder } from './slot-binder';
import { SlotTable, freeSlotsIn } from './slot-table';
import { Suspicion } from './suspicion';
import { WaitQueue } from './wait-queue';
import { WaitTimers } from './wait-timers';

/** How often waiting requests are re-offered to the strategy when no slot has freed. */
const REOFFER_MS = 100;

/**
 * The single writer of pool state: nodes, slots, the wait queue, breakers, estimates and limits.
 * Its inputs are the events of {@link SchedulerEvent}, data applied in order, each by one named
 * handler ({@link Scheduler.apply} lists them); after each batch a scheduling pass binds waiting
 * requests, late (when a slot frees, not when they arrive), to the node the strategy picks.
 *
 * Each step of a request's life is its own part, handed only the state and steps it needs:
 * {@link AdmissionControl} (model, fallback, queue depth), {@link SlotBinder} (late binding, with
 * the hints every strategy honours), {@link ModelFallback} (switching to a fallback model),
 * {@link DispatchStarter} (upstream dispatch and its deadlines), {@link CompletionHandler}
 * (completions, retries, aborts), {@link Suspicion} (nodes that may hang), {@link WaitTimers}
 * (queue deadlines, re-offers and overdue sweeps) and {@link Leases} (slots handed to applications
 * that call the node themselves). The pool's
 * membership events are handled in `nodes/node-events.ts`.
 *
 * Nothing outside this folder holds a Scheduler: callers post events through the control plane
 * and read the pool through `PoolView` snapshots.
 */
export class Scheduler implements PoolState, SchedulerPort {
  readonly nodes = new Map<string, PoolNode>();
  /** API keys' fair-queue weights, priority caps and served counts (`auth.apiKeys`). */
  readonly keys: ClientKeys;
  readonly queue = new WaitQueue<Queued>(
    (key) => this.keys.weight(key),
    () => this.config.queue.fairBurst,
  );
  readonly slots = new SlotTable();
  config: BalancerConfig;
  strategy: Strategy;
  readonly estimates: Estimates;
  readonly now: () => number;
  private readonly deps: SchedulerDeps;
  private readonly admission: AdmissionControl;
  /** @internal Exposed for tests of the routing context. */
  readonly binder: SlotBinder;
  private readonly completions: CompletionHandler;
  private readonly timers: WaitTimers;
  private readonly suspicion: Suspicion;
  private readonly leases: Leases;
  private readonly preemption: Preemption;
  private readonly inbox = new EventInbox(
    (evt) => this.apply(evt),
    () => {
      this.deps.journal?.pass(this.now());
      this.pump();
    },
  );
  private seq = 0;
  private stopped = false;
  private stopError: BalancerError | undefined;
  /** Requests admitted and not yet ended (queued, in backoff, or in flight). */
  private live = 0;
  /** Ids of the nodes the config (at start or the last reload) defines; the others were added at run time. */
  private configuredIds: ReadonlySet<string>;

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.estimates = deps.estimates;
    this.now = deps.now ?? Date.now;
    this.strategy = deps.createStrategy(deps.config.strategy.type, deps.config.strategy);
    this.configuredIds = new Set(deps.config.nodes.map((n) => n.id));
    this.keys = new ClientKeys(deps.config.auth?.apiKeys ?? []);
    applyConfig(this, deps.config, deps.createStrategy);
    if (deps.shared) this.slots.onRelease = (id) => deps.shared!.released(id);
    const finish = this.finish.bind(this);
    const post = deps.post ?? this.post.bind(this);
    const isStopped = () => this.stopped;
    const { observer, arena, table } = deps;
    this.timers = new WaitTimers({ pool: this, observer, finish, post, isStopped });
    const fallbacks = new ModelFallback({ pool: this, arena, observer });
    this.admission = new AdmissionControl({
      pool: this,
      fallbacks,
      observer,
      finish,
      pump: () => this.pump(),
      armQueueTimer: () => this.timers.armQueueTimer(),
      nextSeq: () => ++this.seq,
      limiter: deps.limiter,
    });
    this.preemption = new Preemption({ pool: this, table });
    const starter = new DispatchStarter({ pool: this, arena, dispatcher: deps.dispatcher, post });
    this.suspicion = new Suspicion({ pool: this, table, observer, probe: deps.probe, armSweep: (ms) => this.timers.armOverdueSweep(ms) });
    this.binder = new SlotBinder({
      pool: this,
      createStrategy: (name) => deps.createStrategy(name, this.config.strategy),
      limiter: deps.limiter,
      shared: deps.shared,
      fallbacks,
      observer,
      finish,
      armReoffer: (ms) => this.timers.armReoffer(ms),
      preemption: this.preemption,
      startDispatch: (ctx, node, now) => {
        this.keys.noteServed(ctx.clientKey);
        if (ctx.lease) return this.leases.grant(ctx, node);
        starter.start(ctx, node, now);
        this.suspicion.dispatched(ctx);
      },
    });
    this.completions = new CompletionHandler({
      pool: this,
      table,
      observer,
      finish,
      enqueue: (ctx, now) => this.admission.enqueue(ctx, now),
      dropNode: (n) => this.dropNode(n),
      suspicion: this.suspicion,
      preemption: this.preemption,
      post,
      isStopped,
    });
    this.leases = new Leases({ table, complete: (evt) => this.completions.onCompletion(evt) });
  }

  // ---------------------------------------------------------------- events in

  /** Queues an event, applied with the others posted in this task as one batch (see `EventInbox`). */
  post(evt: SchedulerEvent): void {
    this.inbox.post(evt);
  }

  /** Queues an event without scheduling a drain: the ring's scheduling stage drains at the end of its batch. */
  accept(evt: SchedulerEvent): void {
    this.inbox.accept(evt);
  }

  /** Applies every queued event now, then runs one scheduling pass (the ring's scheduling stage calls this per batch). */
  drain(): void {
    this.inbox.drain();
  }

  /**
   * Applies one event: the list of every input the scheduler has and its handler. Public for
   * replay (a test feeds a journal's events to a fresh scheduler); everything else posts.
   */
  apply(evt: SchedulerEvent): void {
    this.deps.journal?.event(evt, this.now());
    switch (evt.type) {
      case 'request-validated':
      case 'lease-requested':
        return this.onValidated(evt);
      case 'lease-released':
        return this.leases.onReleased(evt);
      case 'lease-expired':
        return this.leases.onExpired(evt);
      case 'request-completed':
        return this.completions.onCompletion(evt);
      case 'request-aborted':
        return this.completions.onAbort(evt);
      case 'retry-due':
        return this.completions.onRetryDue(evt);
      case 'health-checked':
        applyHealth(this, evt);
        if (evt.suspect) this.suspicion.probed(evt);
        return;
      case 'models-discovered':
        return applyDiscovery(this, evt);
      case 'resources-scraped':
        return applyResources(this, evt);
      case 'node-added':
        return this.answer(evt.command, () => snapshotNode(addNode(this, evt.spec), this.now()));
      case 'node-removed':
        return this.answer(evt.command, () => removeNode(this, evt.nodeId));
      case 'node-commanded':
        return this.answer(evt.command, () => snapshotNode(applyNodeCommand(this, evt.nodeId, evt.action), this.now()));
      case 'strategy-set':
        return this.answer(evt.command, () => {
          this.strategy = this.deps.createStrategy(evt.name, this.config.strategy);
          return this.strategy.name;
        });
      case 'config-reloaded':
        return this.answer(evt.command, () => this.onReload(evt));
      case 'timer-fired':
        // Queue deadlines and re-offers need nothing here: the pass after this batch does them.
        if (evt.timer === 'overdue') this.suspicion.sweep(this.now());
        return;
      case 'barrier':
        return this.answer(evt.command, () => undefined);
      case 'slot-lease-answered':
      case 'slot-leases-counted':
      case 'shared-state-changed':
      case 'breaker-shared':
      case 'trial-claim-answered':
      case 'estimates-shared':
      case 'remote-holders-changed':
        return this.deps.shared?.apply(evt, this);
      case 'rate-checked':
        return this.admission.onRateChecked(evt, this.deps.table.get(evt.requestId), this.now(), this.stopped ? this.stopError : undefined);
      case 'shutdown-began':
        return this.answer(evt.command, () => this.stop(evt.error));
    }
  }

  /** Runs a command's handler and sends its result, or the error it threw, to the control plane. */
  private answer(command: number, fn: () => unknown): void {
    let value: unknown;
    try {
      value = fn();
    } catch (e) {
      this.deps.replies?.reject(command, e);
      return;
    }
    this.deps.replies?.resolve(command, value);
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

  /** Validation's verdict (a lease's is made of its model alone): reject the request, or admit it to the wait queue. */
  private onValidated({ requestId, verdict }: RequestValidated | LeaseRequested): void {
    // A request aborted while in the ring has already ended and left the table.
    const ctx = this.deps.table.get(requestId);
    if (!ctx || ctx.state === 'done') return;
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
    ctx.maxPriority = this.keys.maxPriority(ctx.clientKey);
    // Replicas share the global and per-key limits in Redis: its answer is a `rate-checked` event.
    if (this.deps.shared?.checkLimits(ctx.id, ctx.clientKey)) return;
    this.admission.checkLocally(ctx, this.now());
  }

  /** A new config (see `withRuntimeNodes` for what is kept); returns the effective config. */
  private onReload({ config }: ConfigReloaded): BalancerConfig {
    const effective = withRuntimeNodes(this, config, this.configuredIds);
    const before = this.config.strategy;
    applyConfig(this, effective, this.deps.createStrategy);
    // Per-request strategies were built with the old settings (a `hybrid` rule may have changed).
    if (!sameStrategySettings(before, effective.strategy)) this.binder.forgetStrategies();
    this.deps.limiter?.reconfigure?.(effective, this.now());
    this.keys.configure(effective.auth?.apiKeys ?? []);
    this.configuredIds = new Set(config.nodes.map((n) => n.id));
    return effective;
  }

  /** Ids of the nodes the config (at start or the last reload) defines; every other node was added at run time. */
  configuredNodeIds(): ReadonlySet<string> {
    return this.configuredIds;
  }

  // ---------------------------------------------------------------- binding

  /** Binds as many waiting requests as the free slots allow, in queue order. */
  pump(): void {
    if (this.stopped) return;
    const now = this.now();
    let bound = false;
    this.deps.shared?.beginPass(this.nodes, now);
    if (this.queue.size > 0) {
      // One routing context per pass: the predictive strategy counts the requests it has told to
      // wait for a node within a pass, so that a queue does not pile onto one busy node.
      const routing = this.binder.routingContext(now);
      // Interactive requests come first in the walk; a batch line after them takes only the slots
      // none of them is waiting for (the claims the binder records in a pass where a batch line waits).
      this.binder.beginPass(this.queue.sizeOf('batch') > 0);
      let contend = this.deps.shared?.isShared() === true;
      for (const item of this.queue.ordered()) {
        // A full pool still offers interactive waiters while batch lines could be cut for them.
        // Replicas: the first waiter is still offered, so it contends for the next freed slot (handoff).
        if (freeSlotsIn(this.nodes.values()) === 0 && (item.requestClass === 'batch' || !this.preemption.offerWhileFull(this.nodes.values()))) {
          if (!contend) break;
          contend = false;
        }
        const r = this.binder.tryBind(item, now, routing);
        if (r === 'bound' || r === 'failed') {
          this.queue.remove(item.requestId, r === 'bound');
          bound = true;
        }
      }
    }
    if (bound) this.deps.observer?.queueChanged?.(this.queue.depthByModel());
    // Expire after binding: a waiter that a slot can take now is served, not timed out (so with
    // queue.maxWaitMs 0 a request with a free slot still runs, and one without fails at once).
    this.timers.expireWaiters(now);
    this.timers.armQueueTimer();
    // Waiters are re-offered now and then even when no slot frees: estimates age, and a strategy
    // that chose to wait for a busy node may give up on it.
    if (this.queue.size > 0) this.timers.armReoffer(REOFFER_MS);
    this.deps.shared?.endPass(this, this.queue.size > 0);
  }

  // ---------------------------------------------------------------- the end of a request

  /** Ends a request exactly once: tells the sink, frees its body, forgets it (see `endRequest`). */
  finish(ctx: RequestContext, outcome: Outcome, error?: BalancerError, dispatch?: DispatchOutcome): void {
    if (ctx.state === 'done') return;
    this.live = Math.max(0, this.live - 1);
    endRequest(this.deps, ctx, outcome, this.now(), error, dispatch);
  }

  // ---------------------------------------------------------------- pool membership and lifecycle

  /** Forgets a removed node once it has nothing in flight. */
  dropNode(n: PoolNode): void {
    this.nodes.delete(n.id);
    this.slots.dropNode(n.id);
    this.deps.observer?.nodeRemoved?.(n.id);
    this.syncDispatcher();
  }

  /** Keeps the dispatcher's connection pools in step with the node list. */
  syncDispatcher(): void {
    this.deps.dispatcher.setNodes([...this.nodes.values()].map((n) => ({ id: n.id, url: n.url, connections: n.maxConcurrent, tls: n.spec.tls })));
  }

  /** Leases held now, and taken back at their TTL since start. */
  leaseCounts = (): LeaseCounts => this.leases.counts();

  /** Requests holding a slot now (proxied or leased) by class, and the batch lines cut since start, for views. */
  running(): { running: Record<RequestClass, number>; preempted: number } {
    return { running: this.deps.table.runningByClass(), preempted: this.preemption.total };
  }

  /** Requests admitted and not yet ended. */
  liveCount = (): number => this.live;

  /** Whether stop() has run: nothing binds, retries or arms timers any more. */
  isStopped = (): boolean => this.stopped;

  /** Stops binding and timers; fails everything still waiting with `error`. In-flight requests are left to finish. */
  private stop(error: BalancerError): void {
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
}
