import type { BalancerConfig } from '../config/types';
import { discoverNode, type DiscoveryResult } from './discovery';
import type { HealthState } from './node';
import { tlsFilesKey } from './node-tls';
import { OllamaProbe, type HealthPath, type HealthResult, type ProbeTarget } from './ollama-probe';
import { type ResourceScrape, scrapeResources } from './resource-scrape';

/**
 * The health fields of a node that a check result changes.
 *
 * @example
 * const h: NodeHealth = { health: node.health, consecutiveHealthFailures: node.consecutiveHealthFailures };
 */
export interface NodeHealth {
  health: HealthState;
  consecutiveHealthFailures: number;
}

/**
 * Health thresholds, as in `healthCheck` of the config.
 *
 * @example
 * const t: HealthThresholds = { degradedThreshold: 3, downThreshold: 6 };
 */
export interface HealthThresholds {
  /** Consecutive failures that make a node DEGRADED. */
  degradedThreshold: number;
  /** Consecutive failures that make a node UNHEALTHY. */
  downThreshold: number;
}

/**
 * The health state after one check: pure, for the scheduler (the single writer) to apply.
 * One success makes a node HEALTHY and clears the count. Failures count up; at `degradedThreshold`
 * the node is DEGRADED, at `downThreshold` UNHEALTHY. Below the threshold a node keeps its state
 * (HEALTHY stays HEALTHY through a blip, UNKNOWN stays UNKNOWN, a worse state only clears on success).
 *
 * @example
 * Object.assign(node, nextHealth(node, result.ok, config.healthCheck));
 */
export function nextHealth(node: NodeHealth, ok: boolean, thresholds: HealthThresholds): NodeHealth {
  if (ok) return { health: 'HEALTHY', consecutiveHealthFailures: 0 };
  const failures = node.consecutiveHealthFailures + 1;
  const down = Math.max(1, thresholds.downThreshold);
  const degraded = Math.min(Math.max(1, thresholds.degradedThreshold), down);
  let health: HealthState = node.health;
  if (failures >= down) health = 'UNHEALTHY';
  else if (failures >= degraded && health !== 'UNHEALTHY') health = 'DEGRADED';
  return { health, consecutiveHealthFailures: failures };
}

/**
 * Settings and callbacks of {@link HealthMonitor}.
 *
 * @example
 * const opts: HealthMonitorOptions = { intervalMs: 30_000, timeoutMs: 5_000, onHealth: (r) => publish(r) };
 */
export interface HealthMonitorOptions {
  /** Time between health checks of one node (from the end of one to the start of the next); 0 turns them off. */
  intervalMs: number;
  /** Time between discoveries (`/api/tags` + `/api/ps`); default `intervalMs`; 0 turns discovery off. */
  discoveryIntervalMs?: number;
  /** Deadline of each probe request. */
  timeoutMs: number;
  connectTimeoutMs?: number;
  healthPath?: HealthPath;
  /**
   * Each interval is shortened by a random fraction up to this (default 0.1), so checks of many
   * nodes spread out instead of firing together. Never lengthened.
   */
  jitter?: number;
  /**
   * Deadline of the probe of a node suspected of hanging ({@link HealthMonitor.probeSuspect});
   * default `timeoutMs`.
   */
  suspectTimeoutMs?: number;
  /** Receives every health result (`suspect`: from {@link HealthMonitor.probeSuspect}); the scheduler turns it into an event. */
  onHealth(result: HealthResult & { suspect?: boolean }): void;
  /** Receives every discovery result. */
  onDiscovery?(result: DiscoveryResult): void;
  /**
   * Receives every scrape of a node's exporter (`metricsUrl`), taken every `intervalMs` beside the
   * health check. Nodes without a `metricsUrl` are not scraped.
   */
  onResources?(result: ResourceScrape): void;
  /** A callback threw; the monitor carries on. Default: ignored. */
  onError?(err: unknown): void;
  /** A probe to use instead of a private one; the monitor then does not close it. */
  probe?: OllamaProbe;
}

type Kind = 'health' | 'discovery' | 'resources';

interface Task {
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  abort: AbortController | null;
}

interface Entry {
  target: MonitorTarget;
  tasks: Record<Kind, Task>;
}

const idle = (): Task => ({ timer: null, running: null, abort: null });

/** What the monitor probes of one node: its URL, and its exporter's when it has one. */
export interface MonitorTarget extends ProbeTarget {
  metricsUrl?: string;
}

/**
 * Probes every node on an interval (health: `GET /api/version` or `/`; discovery: `/api/tags` and
 * `/api/ps`; resources: the node's `metricsUrl`, when it has one, on the health interval) and hands
 * each result to a callback. It never touches a `PoolNode`: results go to the scheduler as events,
 * and the scheduler applies {@link nextHealth}. A scrape is a kind of its own, so an exporter that
 * is slow or down never delays or fails the node's health check.
 *
 * Per node and per kind, a probe never overlaps the next: the next one is timed from the end of
 * the last. Timers are unref'd. A new node is probed at once. `stop()` aborts probes in flight,
 * awaits them, and closes the probe's sockets; results of aborted or removed nodes are dropped.
 *
 * @example
 * const monitor = HealthMonitor.fromConfig(config, {
 *   onHealth: (r) => scheduler.publish({ type: 'health', ...r }),
 *   onDiscovery: (r) => scheduler.publish({ type: 'discovery', ...r }),
 * });
 * monitor.updateNodes(config.nodes);
 * await monitor.checkNow('gpu-1');
 * await monitor.stop();
 */
export class HealthMonitor {
  private readonly opts: HealthMonitorOptions;
  private readonly probe: OllamaProbe;
  private readonly ownsProbe: boolean;
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Probes of suspected nodes in flight, by node id. */
  private readonly suspects = new Map<string, AbortController>();
  /** The probe with the short deadline for suspected nodes, made on first use. */
  private suspectProbe: OllamaProbe | undefined;
  private stopping: Promise<void> | null = null;

  constructor(opts: HealthMonitorOptions) {
    this.opts = opts;
    this.ownsProbe = !opts.probe;
    this.probe = opts.probe ?? new OllamaProbe({ timeoutMs: opts.timeoutMs, connectTimeoutMs: opts.connectTimeoutMs, healthPath: opts.healthPath });
  }

  /**
   * A monitor with the config's intervals and timeouts.
   *
   * @example
   * HealthMonitor.fromConfig(config, { onHealth: console.log });
   */
  static fromConfig(
    config: Pick<BalancerConfig, 'healthCheck' | 'timeouts' | 'failover' | 'discovery'>,
    handlers: Pick<HealthMonitorOptions, 'onHealth' | 'onDiscovery' | 'onResources' | 'onError' | 'healthPath' | 'jitter'>,
  ): HealthMonitor {
    return new HealthMonitor({
      intervalMs: config.healthCheck.intervalMs,
      discoveryIntervalMs: config.discovery.enabled ? config.healthCheck.discoveryIntervalMs : 0,
      timeoutMs: config.timeouts.healthCheckTimeoutMs,
      connectTimeoutMs: config.timeouts.connectTimeoutMs,
      suspectTimeoutMs: config.failover.probeTimeoutMs,
      ...handlers,
    });
  }

  /** Nodes being monitored. */
  get nodeIds(): string[] {
    return [...this.entries.keys()];
  }

  /** Starts monitoring a node (probing it at once); a known id with a new URL or metrics URL is restarted. */
  addNode(target: MonitorTarget): void {
    if (this.stopping) return;
    const existing = this.entries.get(target.id);
    if (existing && existing.target.url === target.url && existing.target.metricsUrl === target.metricsUrl && tlsFilesKey(existing.target.tls) === tlsFilesKey(target.tls)) return;
    if (existing) this.removeNode(target.id);
    const entry: Entry = {
      target: { id: target.id, url: target.url, ...(target.metricsUrl !== undefined && { metricsUrl: target.metricsUrl }), ...(target.tls !== undefined && { tls: target.tls }) },
      tasks: { health: idle(), discovery: idle(), resources: idle() },
    };
    this.entries.set(target.id, entry);
    for (const kind of this.kinds(entry)) this.schedule(entry, kind, 0);
  }

  /**
   * Probes a node suspected of hanging now, apart from its regular checks and with the short
   * `suspectTimeoutMs` deadline; the result goes to `onHealth` with `suspect: true`. A node already
   * being probed so is not probed twice; an unknown node is ignored.
   */
  probeSuspect(id: string): void {
    const entry = this.entries.get(id);
    if (!entry || this.stopping || this.suspects.has(id)) return;
    const timeoutMs = this.opts.suspectTimeoutMs ?? this.opts.timeoutMs;
    this.suspectProbe ??= new OllamaProbe({ timeoutMs, connectTimeoutMs: this.opts.connectTimeoutMs, healthPath: this.opts.healthPath });
    const probe = this.suspectProbe;
    const abort = new AbortController();
    this.suspects.set(id, abort);
    const running: Promise<void> = probe
      .checkHealth(entry.target, abort.signal)
      .then((r) => {
        if (this.isCurrent(entry) && !abort.signal.aborted) this.opts.onHealth({ ...r, suspect: true });
      })
      .catch((e: unknown) => this.opts.onError?.(e))
      .finally(() => {
        if (this.suspects.get(id) === abort) this.suspects.delete(id);
        this.inFlight.delete(running);
      });
    this.inFlight.add(running);
  }

  /** Stops monitoring a node; a probe in flight is aborted and its result dropped. */
  removeNode(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.suspects.get(id)?.abort();
    this.suspects.delete(id);
    for (const task of Object.values(entry.tasks)) {
      if (task.timer) clearTimeout(task.timer);
      task.timer = null;
      task.abort?.abort();
    }
  }

  /** Makes the monitored set equal `targets` (a config reload): adds, removes, restarts changed URLs. */
  updateNodes(targets: readonly MonitorTarget[]): void {
    const wanted = new Set(targets.map((t) => t.id));
    for (const id of [...this.entries.keys()]) if (!wanted.has(id)) this.removeNode(id);
    for (const t of targets) this.addNode(t);
  }

  /**
   * Probes now (one node, or all) and resolves when the results have been delivered. A probe
   * already running is awaited rather than doubled.
   */
  async checkNow(id?: string): Promise<void> {
    const entries = id === undefined ? [...this.entries.values()] : [this.entries.get(id)].filter((e): e is Entry => !!e);
    const runs: Promise<void>[] = [];
    for (const entry of entries) for (const kind of this.kinds(entry)) runs.push(this.run(entry, kind));
    await Promise.all(runs);
  }

  /** Stops every timer, aborts and awaits probes in flight, and closes the sockets. Idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) {
      for (const id of [...this.entries.keys()]) this.removeNode(id);
      this.stopping = (async () => {
        await Promise.allSettled([...this.inFlight]);
        if (this.ownsProbe) await this.probe.close();
        await this.suspectProbe?.close();
      })();
    }
    return this.stopping;
  }

  private kinds(entry: Entry): Kind[] {
    const kinds: Kind[] = [];
    if (this.opts.intervalMs > 0) kinds.push('health');
    if (this.discoveryInterval() > 0) kinds.push('discovery');
    if (this.opts.intervalMs > 0 && entry.target.metricsUrl !== undefined) kinds.push('resources');
    return kinds;
  }

  private discoveryInterval(): number {
    return this.opts.discoveryIntervalMs ?? this.opts.intervalMs;
  }

  private schedule(entry: Entry, kind: Kind, delayMs: number): void {
    const task = entry.tasks[kind];
    if (task.timer) clearTimeout(task.timer);
    task.timer = setTimeout(() => {
      task.timer = null;
      void this.run(entry, kind);
    }, delayMs);
    task.timer.unref();
  }

  private run(entry: Entry, kind: Kind): Promise<void> {
    const task = entry.tasks[kind];
    if (task.running) return task.running;
    if (!this.isCurrent(entry)) return Promise.resolve();
    if (task.timer) clearTimeout(task.timer);
    task.timer = null;
    const abort = new AbortController();
    task.abort = abort;
    const running = this.probeOnce(entry, kind, abort.signal).finally(() => {
      task.running = null;
      task.abort = null;
      this.inFlight.delete(running);
      if (this.isCurrent(entry)) this.schedule(entry, kind, this.nextDelay(kind));
    });
    task.running = running;
    this.inFlight.add(running);
    return running;
  }

  private async probeOnce(entry: Entry, kind: Kind, signal: AbortSignal): Promise<void> {
    try {
      if (kind === 'health') {
        const r = await this.probe.checkHealth(entry.target, signal);
        if (this.isCurrent(entry) && !signal.aborted) this.opts.onHealth(r);
      } else if (kind === 'discovery') {
        const r = await discoverNode(this.probe, entry.target, signal);
        if (this.isCurrent(entry) && !signal.aborted) this.opts.onDiscovery?.(r);
      } else if (entry.target.metricsUrl !== undefined) {
        const r = await scrapeResources(this.probe, { id: entry.target.id, metricsUrl: entry.target.metricsUrl }, signal);
        if (this.isCurrent(entry) && !signal.aborted) this.opts.onResources?.(r);
      }
    } catch (e) {
      // Probes never throw, so this is a callback's error: report it, keep monitoring.
      this.opts.onError?.(e);
    }
  }

  private isCurrent(entry: Entry): boolean {
    return !this.stopping && this.entries.get(entry.target.id) === entry;
  }

  private nextDelay(kind: Kind): number {
    const base = kind === 'discovery' ? this.discoveryInterval() : this.opts.intervalMs;
    const jitter = Math.min(1, Math.max(0, this.opts.jitter ?? 0.1));
    return Math.max(0, base * (1 - jitter * Math.random()));
  }
}
