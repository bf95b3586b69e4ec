import { withUpstreamTls } from './nodes/node-tls';
import { ByteArena } from '@ollama-ring/disruptor';
import { Autobatch } from './autobatch';
import { type ConfigWatcher, loadConfig, watchConfig } from './config';
import type { BalancerConfig } from './config/types';
import { BackpressureError, PipelineStateError, RequestAbortedError } from './errors';
import { RateLimiter, rateLimitSettings } from './limits';
import { BalancerMetrics } from './metrics';
import { ReplicaMetrics } from './metrics-replicas';
import { HealthMonitor } from './nodes/health-monitor';
import { NodeRegistry } from './nodes/node-registry';
import { Pipeline, PipelineEngine } from './pipeline';
import { RequestTable } from './request-context';
import { Estimates } from './scheduler/estimates';
import { ControlPlane } from './scheduler/control-plane';
import { poolUtilization } from './scheduler/load-imbalance';
import type { SchedulerEvent } from './scheduler/scheduler-events';
import { OutcomePipeline } from './outcomes/outcome-pipeline';
import { combineObservers, ObserverTaps, type SchedulerObserver } from './scheduler/observer';
import type { AdmissionLimiter } from './scheduler/pool-state';
import { hasFreeSlotFor, nodeAddress, type PoolView, probeTargets, viewNodes, viewPool } from './scheduler/pool-view';
import { Scheduler } from './scheduler/scheduler';
import { SharedSlotGate } from './scheduler/shared-slots';
import { RedisSharedState, type SharedStateStatus } from './shared/redis-state';
import type { JobLeasePort } from './shared/job-leases';
import { Dispatcher } from './stages/dispatch';
import type { DispatchPort } from './stages/dispatch-types';
import { WorkerDispatcher } from './stages/worker-dispatcher';
import { StrategyFactory, strategyOptionsOf } from './strategies/strategy-factory';

/** Options of the factory beyond the config. */
export interface FactoryOptions {
  /** Extra observers of scheduling (logs, tests). */
  observer?: SchedulerObserver;
  /** Clock for the scheduler (tests). */
  now?: () => number;
  /** With a config file: watch it and apply every good edit; a bad edit keeps the last good config. */
  watch?: boolean;
  /** Reports a config edit that failed to load (default: a process warning). */
  onConfigError?: (err: Error) => void;
  /** Environment for config overrides (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** What `getMetricsRegistry()` gives: Prometheus text on demand. */
export interface MetricsAccess {
  scrape(): Promise<string>;
  readonly contentType: string;
  /** The underlying metrics, for custom recording. */
  readonly metrics: BalancerMetrics;
}

/**
 * Builds and runs a whole balancer from a config: engine, scheduler, dispatch, metrics, limits and
 * node supervision. The library's front door.
 *
 * @example
 * await using factory = await PipelineFactory.fromConfig(config).start();
 * const res = await factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'Why is the sky blue?'));
 */
export class PipelineFactory {
  private config: BalancerConfig;
  private readonly opts: FactoryOptions;
  private parts: Parts | undefined;
  private stopping: Promise<void> | undefined;
  /** Observers subscribed while it runs (`observe`). */
  private readonly taps = new ObserverTaps();

  protected constructor(config: BalancerConfig, opts: FactoryOptions = {}) {
    this.config = withUpstreamTls(config);
    this.opts = opts;
  }

  /** A factory for an already-resolved config (every key present). */
  static fromConfig(config: BalancerConfig, opts?: FactoryOptions): PipelineFactory {
    return new PipelineFactory(config, opts);
  }

  /**
   * A factory from a config file (YAML or JSON config, a node list, or a hosts.txt), a config object
   * in the same format, or nothing (zero config: one node at http://127.0.0.1:11434). Env overrides
   * apply. Throws `ConfigError` naming each bad key and its line.
   *
   * @example
   * const factory = await PipelineFactory.create('config.yaml', { watch: true }).start();
   * const other = await PipelineFactory.create({ nodes: [{ url: 'http://10.0.0.5:11434' }] }).start();
   */
  static create(source?: string | Readonly<Record<string, unknown>>, opts: FactoryOptions = {}): PipelineFactory {
    const loaded = loadConfig(source, { env: opts.env, strategies: StrategyFactory.accepts });
    const f = new PipelineFactory(loaded.config, opts);
    f.warnings = loaded.warnings;
    f.file = loaded.source.kind === 'file' ? loaded.source.file : undefined;
    return f;
  }

  /** What loading the config warned about (unknown keys and the like). */
  warnings: string[] = [];
  /** The config file, when the config came from one. */
  file: string | undefined;
  private watcher: ConfigWatcher | undefined;
  private startedAt = 0;

  /** Starts everything; resolves once requests can be submitted. */
  async start(): Promise<this> {
    if (this.parts) return this;
    this.startedAt = Date.now();
    const cfg = this.config;
    const arena = new ByteArena({ capacity: arenaCapacity(cfg), blockSize: 1024 });
    const table = new RequestTable();
    const dispatcher: DispatchPort =
      cfg.disruptor.dispatchPlacement === 'workers'
        ? new WorkerDispatcher(arena, { threads: cfg.disruptor.dispatchThreads ?? 2, connectTimeoutMs: cfg.timeouts.connectTimeoutMs })
        : new Dispatcher({ connectTimeoutMs: cfg.timeouts.connectTimeoutMs });
    const estimates = new Estimates(cfg.estimates);
    const metrics = new BalancerMetrics({ prefix: cfg.metrics.prefix });
    // The completion/metrics stage: the scheduler reports request outcomes as records on a ring of
    // their own, and the stage turns them into metrics after the scheduler's batch.
    const outcomes = cfg.metrics.enabled ? new OutcomePipeline(metrics, { waitStrategy: cfg.disruptor.waitStrategy, placement: cfg.disruptor.metricsPlacement }) : undefined;
    const limiter = new RateLimiter(rateLimitSettings(cfg), Date.now());
    const admission: AdmissionLimiter = {
      check: (key, now) => limiter.check(key, now),
      allowNode: (id, now) => limiter.checkNode(id, now) === null,
      nodeAvailable: (id, now) => limiter.nodeAvailable(id, now),
      shareNodes: (replicas, now) => limiter.shareNodes(replicas, now),
      reconfigure: (next, now) => limiter.reconfigure(rateLimitSettings(next), now),
    };
    // Every scheduler event goes through the ring's event inlet: the engine is built right after the
    // scheduler (its scheduling stage is the scheduler's), so posts reach it through `engine`.
    const post = (evt: SchedulerEvent) => engine.inlet.post(evt);
    const control = new ControlPlane(post);
    // Replicas share node slots as Redis leases; the memory backend has no gate at all, so its
    // binding path is the one it always was.
    const redis =
      cfg.state.backend === 'redis'
        ? new RedisSharedState(cfg.state.redis, {
            post,
            nodeIds: cfg.nodes.map((n) => n.id),
            limits: () => rateLimitSettings(this.config),
            learned: () => estimates.snapshot(),
            now: this.opts.now,
            onAdmin: (c) => {
              const applied = c.kind === 'node' ? control.nodeAction(c.nodeId, c.action, { fromPeer: true }) : control.setStrategy(c.name, { fromPeer: true });
              // A node this replica does not have, a strategy it does not know: nothing to apply.
              applied.catch((e: unknown) => process.emitWarning(`admin change from another replica not applied: ${e instanceof Error ? e.message : String(e)}`));
            },
            metrics: cfg.metrics.enabled ? new ReplicaMetrics(metrics.registry, metrics.prefix) : undefined,
          })
        : undefined;
    if (redis) control.onAdminChange = (c) => redis.announceAdmin(c);
    const monitor = new HealthMonitor({
      intervalMs: cfg.healthCheck.intervalMs,
      // 0 turns discovery off: nodes are then routed by their configured models alone.
      discoveryIntervalMs: cfg.discovery.enabled ? cfg.healthCheck.discoveryIntervalMs : 0,
      timeoutMs: cfg.timeouts.healthCheckTimeoutMs,
      connectTimeoutMs: cfg.timeouts.connectTimeoutMs,
      suspectTimeoutMs: cfg.failover.probeTimeoutMs,
      onHealth: (r) => {
        if (cfg.metrics.enabled) metrics.recordHealthCheck(r.nodeId, r.ok);
        control.healthChecked({ nodeId: r.nodeId, ok: r.ok, error: r.error, at: r.checkedAt, suspect: r.suspect });
      },
      onDiscovery: (r) => {
        if (!r.ok) return;
        const models = r.models?.map((m) => (typeof m === 'string' ? m : m.name));
        control.modelsDiscovered({ nodeId: r.nodeId, models, loaded: r.loaded, probedAt: r.probedAt, at: r.checkedAt });
      },
      onResources: (r) => {
        if (cfg.metrics.enabled) metrics.resources.recordScrape(r.nodeId, r.outcome);
        control.resourcesScraped({ nodeId: r.nodeId, signals: r.signals, at: r.checkedAt });
      },
    });
    this.taps.setBase(combineObservers(outcomes?.publisher, this.opts.observer));
    const scheduler = new Scheduler({
      config: cfg,
      table,
      arena,
      dispatcher,
      estimates,
      createStrategy: (name, settings) => control.customStrategy(name) ?? StrategyFactory.create(name, strategyOptionsOf(settings)),
      limiter: admission,
      observer: this.taps.observer,
      replies: control,
      probe: (id) => monitor.probeSuspect(id),
      post,
      shared: redis && new SharedSlotGate(redis, admission),
      now: this.opts.now,
    });
    const engine = new PipelineEngine(cfg, arena, table, scheduler);
    const view = () => viewPool(scheduler);
    monitor.updateNodes(cfg.nodes);
    // One round of checks before taking requests, so the first ones already know which node has
    // which model and which is down. A node that does not answer in time is simply not known yet.
    await monitor.checkNow();
    await new Promise<void>((r) => setImmediate(r));
    await outcomes?.start();
    await engine.start();
    await redis?.start();
    await control.barrier();
    const pipeline = new Pipeline(() => this.config, engine, arena, table, scheduler, control, view);
    const registry = new NodeRegistry(
      control,
      () => viewNodes(scheduler),
      () => monitor.updateNodes(probeTargets(scheduler)),
      (id) => nodeAddress(scheduler, id),
    );
    const autobatch = new Autobatch({
      config: () => this.config,
      pipeline: () => pipeline,
      view,
      freeSlotFor: (model) => hasFreeSlotFor(scheduler, model),
      metrics: cfg.metrics.enabled ? metrics.autobatch : undefined,
    });
    this.parts = { arena, table, dispatcher, metrics, outcomes, scheduler, control, view, engine, pipeline, monitor, registry, autobatch, redis };
    if (this.opts.watch && this.file) {
      const report = this.opts.onConfigError ?? ((e: Error) => process.emitWarning(`config not reloaded: ${e.message}`));
      this.watcher = watchConfig(this.file, (next) => void this.reload(next).catch(report), report, {
        env: this.opts.env,
        strategies: StrategyFactory.accepts,
      });
      await this.watcher.ready;
    }
    return this;
  }

  getPipeline(): Pipeline {
    return this.started().pipeline;
  }

  /** The embedding autobatch: the coalescer the gateway hands embedding requests to. */
  getAutobatch(): Autobatch {
    return this.started().autobatch;
  }

  getNodeRegistry(): NodeRegistry {
    return this.started().registry;
  }

  getMetricsRegistry(): MetricsAccess {
    const p = this.started();
    return {
      metrics: p.metrics,
      contentType: p.metrics.contentType,
      scrape: async () => {
        // State gauges are read when they are scraped, the only time anyone sees them, rather than
        // written on every event.
        const view = p.view();
        p.metrics.setRingBufferRemaining(p.engine.remaining());
        p.metrics.setEventOverflowPeak(p.engine.inlet.overflowPeak);
        p.metrics.setOutcomesDropped(p.outcomes?.publisher.dropped ?? 0);
        p.metrics.setLeases(view.leases.held, view.leases.expired);
        p.metrics.syncNodeGauges(view.nodes, view.at);
        p.metrics.resources.sync(view.nodes);
        p.metrics.modelNodes.sync(view.nodes);
        p.metrics.syncQueueDepths(view.queue.byModel);
        p.metrics.syncUtilization(poolUtilization(view));
        p.metrics.syncClasses(view.classes, view.fairShare);
        return p.outcomes ? p.outcomes.scrape() : p.metrics.scrape();
      },
    };
  }

  /**
   * Subscribes `observer` to the scheduler's reports from now on (an observer fixed at start goes in
   * `FactoryOptions.observer`); the returned function unsubscribes it. Its methods run on the
   * scheduler's thread, inside its batch: they must be quick (one that throws is reported as a process warning).
   *
   * @example const off = factory.observe({ requestEnded: (e) => ends.push(e) }); off();
   */
  observe(observer: SchedulerObserver): () => void {
    return this.taps.add(observer);
  }

  /**
   * Whether this balancer shares its pool's state with other replicas now (`state.backend: redis`),
   * or works alone: the memory backend, or Redis out (then on its local share of each node's slots).
   */
  getSharedState(): SharedStateStatus {
    const p = this.started();
    return p.redis?.status() ?? { backend: 'memory', shared: true, since: this.startedAt };
  }

  /**
   * The leases the gateway's batch jobs and workflow runs are owned through when replicas share
   * them (`state.backend: redis`, on the backend's own connections); undefined with `memory`.
   */
  getJobLeases(): JobLeasePort | undefined {
    return this.started().redis?.jobLeases();
  }

  getConfig(): BalancerConfig {
    return this.config;
  }

  /** Commands to the scheduler (node membership, strategy, reload, barrier); each resolves once applied. */
  getControlPlane(): ControlPlane {
    return this.started().control;
  }

  /** A snapshot of the pool as the scheduler holds it now: nodes, slots, queue, estimates, live requests. */
  getPoolView(): PoolView {
    return this.started().view();
  }

  /**
   * Applies a new config as a scheduler event. In-flight counts, the waiting queue and learned
   * estimates of surviving nodes are kept. Resolves once applied.
   *
   * Nodes added at run time (`NodeRegistry.add`, the admin API) are not in any file, so a reload
   * keeps them: the effective node list is the new config's nodes, then every run-time node whose
   * id the new config does not define. When it does define that id, the config wins (its spec
   * replaces the run-time one, and from then on the node belongs to the config: a later reload
   * without it removes it). Nodes of the previous config that the new one drops drain and go, and
   * a config node removed at run time comes back when a reload still lists it.
   * `getConfig().nodes` is the effective list; `getConfiguredNodeIds()` tells the two kinds apart.
   */
  async reload(config: BalancerConfig): Promise<void> {
    const p = this.started();
    const effective = await p.control.reload(withUpstreamTls(config));
    p.monitor.updateNodes(effective.nodes);
    this.config = effective;
  }

  /** Ids of the nodes the last config (at start or reload) defined; every other node was added at run time. */
  getConfiguredNodeIds(): ReadonlySet<string> {
    return new Set(this.started().view().configuredNodeIds);
  }

  /**
   * Stops taking requests, lets those in flight finish for up to `graceMs`, aborts the rest, then
   * shuts the engine down and closes every connection. Nothing is left running.
   */
  stop(graceMs = 30_000): Promise<void> {
    if (!this.parts) return Promise.resolve();
    this.stopping ??= this.doStop(this.parts, graceMs);
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async doStop(p: Parts, graceMs: number): Promise<void> {
    await this.watcher?.close();
    p.autobatch.close(); // calls still gathering go out now, and finish within the grace period
    await p.control.shutdown(new BackpressureError('the balancer is shutting down'));
    const deadline = Date.now() + graceMs;
    while (p.table.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (p.table.size > 0) {
      const error = new RequestAbortedError('the balancer shut down before the request finished');
      for (const ctx of [...p.table.values()]) p.pipeline.cancel(ctx.id, error);
      const hard = Date.now() + 5_000;
      while (p.table.size > 0 && Date.now() < hard) await new Promise((r) => setTimeout(r, 10));
    }
    await p.monitor.stop();
    await p.redis?.close();
    await p.engine.shutdown(5_000);
    await p.outcomes?.shutdown();
    p.control.close(new BackpressureError('the balancer has shut down'));
    await p.dispatcher.close();
  }

  private started(): Parts {
    if (!this.parts) throw new PipelineStateError('PipelineFactory: call start() first');
    return this.parts;
  }
}

interface Parts {
  arena: ByteArena;
  table: RequestTable;
  dispatcher: DispatchPort;
  metrics: BalancerMetrics;
  outcomes: OutcomePipeline | undefined;
  scheduler: Scheduler;
  control: ControlPlane;
  view: () => PoolView;
  engine: PipelineEngine;
  pipeline: Pipeline;
  monitor: HealthMonitor;
  registry: NodeRegistry;
  autobatch: Autobatch;
  redis: RedisSharedState | undefined;
}

/**
 * Bytes for request bodies and validation verdicts of every live request: room for a few bodies
 * of the largest allowed size, at least 64 MiB, at most 1 GiB. Pages of a SharedArrayBuffer are
 * only touched when written, so the reservation costs little until used.
 */
function arenaCapacity(cfg: BalancerConfig): number {
  return Math.min(2 ** 30, Math.max(64 * 2 ** 20, cfg.validation.maxBodyBytes * 4));
}
