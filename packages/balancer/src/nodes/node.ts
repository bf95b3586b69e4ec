import { normalizeModel } from '@ollama-ring/protocol';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker';
import { nodeUrlParts, type NodeUrlParts } from './node-url';
import { type LoadedModel, ResidentModels, evictionVictims, residentAt } from './resident-models';
import type { NodeResources } from './resource-signals';
import { SlotUsage } from './slot-usage';
import type { TlsFiles } from './node-tls';

export type HealthState = 'UNKNOWN' | 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';

/** A node as configured. */
export interface NodeSpec {
  id: string;
  url: string;
  /** Models configured for the node; discovery (`/api/tags`) adds to them. Empty = any model. */
  models: string[];
  /** Slots: the most requests the balancer sends this node at once. */
  maxConcurrentRequests: number;
  /** Optional per-model slot caps within `maxConcurrentRequests` (normalised model names). */
  maxConcurrentPerModel?: Record<string, number>;
  /**
   * Optional: how many models the node keeps loaded at once (its `OLLAMA_MAX_LOADED_MODELS`). At
   * that many, a load makes Ollama evict the least recently used idle model. When absent it is
   * learned: from `/api/ps` (the most models seen loaded at once, and models gone before their
   * expiry) and from loads the balancer did not expect; until then Ollama's default of 3 is assumed.
   */
  maxLoadedModels?: number;
  weight: number;
  enabled: boolean;
  tags: string[];
  /** Lower is preferred (as in the seed pools): `performance` and `model-aware` use it to break ties. */
  priority: number;
  /**
   * Optional: the URL of a Prometheus exporter on the node (node_exporter, NVIDIA's DCGM exporter or
   * nvidia_gpu_exporter, e.g. `http://10.0.0.5:9100/metrics`), scraped on the health interval for
   * CPU load, memory and GPU signals (see `nodes/resource-signals.ts`). May carry credentials, as
   * the node URL may.
   */
  metricsUrl?: string;
  /**
   * Optional, for an `https://` node: its CA and client certificate files. In the effective config
   * the pool-wide `upstreamTls` is already merged in (the node's own keys win); none for `http://`.
   */
  tls?: TlsFiles;
}

export type { LoadedModel } from './resident-models';

/**
 * One Ollama node and everything the scheduler knows about it. Only the scheduler mutates it
 * (single writer); everything else reads snapshots.
 */
export class PoolNode {
  spec: NodeSpec;
  health: HealthState = 'UNKNOWN';
  /** Set by the admin API; survives health checks until re-enabled. */
  adminDisabled = false;
  /** Finishing its in-flight requests, taking no new ones (admin drain, or removal). */
  draining = false;
  /** Removed from the pool (reload or admin); kept only until its in-flight requests finish. */
  removed = false;
  inFlight = 0;
  /**
   * Slots other replicas hold (`state.backend: redis`, as last counted; while Redis is out, the
   * slots beyond this replica's share). Always 0 with the memory backend.
   */
  heldElsewhere = 0;
  /** Of those, the slots held by other replicas' requests whose holders this replica knows (`scheduler/remote-holders.ts`); 0 with the memory backend. */
  remoteHolders = 0;
  readonly inFlightByModel = new Map<string, number>();
  /** Models discovered through `/api/tags` (normalised); null until the first discovery. */
  discoveredModels: Set<string> | null = null;
  /** Models the node answered "not found" for since the last discovery (normalised). */
  readonly missingModels = new Set<string>();
  readonly loaded = new Map<string, LoadedModel>();
  /** What is known of the node's model residency: its learned limit, recent use per model, loads under way. */
  readonly residency = new ResidentModels();
  readonly breaker: CircuitBreaker;
  totalRequests = 0;
  failedRequests = 0;
  consecutiveHealthFailures = 0;
  lastHealthCheck = 0;
  lastError = '';
  /**
   * The signals of the node's last good exporter scrape, whatever their age; undefined without one.
   * Strategies read {@link resources} instead, which also leaves out stale ones.
   */
  resourceSample: NodeResources | undefined = undefined;
  /** Busy and capacity slot time, for utilization; the slot table books every change of `inFlight` here. */
  readonly usage: SlotUsage;
  /** {@link address} for the URL it was worked out from (a reload may change the URL). */
  private parts?: { url: string; parts: NodeUrlParts };

  /** `since`: when it joined the pool, on the scheduler's clock (epoch ms): its utilization counts from then. */
  constructor(spec: NodeSpec, breaker: CircuitBreakerOptions, since = Date.now()) {
    this.spec = spec;
    this.breaker = new CircuitBreaker(breaker);
    this.usage = new SlotUsage(since);
  }

  get id(): string {
    return this.spec.id;
  }

  get url(): string {
    return this.spec.url;
  }

  /** How the node is called (origin, path prefix, basic-auth header), worked out once per URL. */
  get address(): NodeUrlParts {
    if (this.parts?.url !== this.spec.url) this.parts = { url: this.spec.url, parts: nodeUrlParts(this.spec.url) };
    return this.parts.parts;
  }

  get breakerState(): BreakerState {
    return this.breaker.state;
  }

  /** The models resident here (as far as the scheduler knows), with their expiry. */
  get loadedModels(): Iterable<LoadedModel> {
    return this.loaded.values();
  }

  get maxConcurrent(): number {
    return this.spec.maxConcurrentRequests;
  }

  /**
   * Whether the node can serve `model`: configured or discovered there. A node with no configured
   * models and no discovery yet accepts any model (the seed's behaviour for an unlisted pool).
   */
  hasModel(model: string): boolean {
    const m = normalizeModel(model);
    if (this.missingModels.has(m)) return false;
    const configured = this.spec.models.map(normalizeModel);
    if (configured.includes(m)) return true;
    if (this.discoveredModels) return this.discoveredModels.has(m);
    return configured.length === 0;
  }

  /** The node carries every one of `tags`. */
  hasTags(tags: readonly string[]): boolean {
    return tags.every((t) => this.spec.tags.includes(t));
  }

  /** Free slots for `model`, under both the node's cap and the model's own cap. */
  freeSlots(model: string): number {
    const total = this.spec.maxConcurrentRequests - this.inFlight - this.heldElsewhere;
    const cap = this.spec.maxConcurrentPerModel?.[normalizeModel(model)];
    if (cap === undefined) return Math.max(0, total);
    return Math.max(0, Math.min(total, cap - (this.inFlightByModel.get(normalizeModel(model)) ?? 0)));
  }

  /** Slots `model` may use on this node in all (for queue-wait estimates). */
  slotsFor(model: string): number {
    const cap = this.spec.maxConcurrentPerModel?.[normalizeModel(model)];
    return Math.max(1, Math.min(this.spec.maxConcurrentRequests, cap ?? Infinity));
  }

  /**
   * Whether (model, options signature) is resident and will not need a reload. A model seen only in
   * `/api/ps` (signature unknown) counts as hot for the default signature.
   */
  isHot(model: string, optionsSignature: string, now: number): boolean {
    const l = this.loaded.get(normalizeModel(model));
    if (!l || l.expiresAt <= now) return false;
    return l.optionsSignature === optionsSignature || (l.optionsSignature === null && optionsSignature === '');
  }

  /** How many models the node holds at once: configured `maxLoadedModels`, else learned, else Ollama's 3. */
  maxLoadedModels(): number {
    return this.residency.limit(this.spec.maxLoadedModels);
  }

  /** Models resident now (not expired). */
  residentModels(now: number): LoadedModel[] {
    return residentAt(this, now);
  }

  /**
   * The resident models that loading (`model`, `optionsSignature`) here now would evict, as Ollama
   * picks them (see {@link ResidentModels}); empty when it is hot or the node has room.
   */
  evictionsFor(model: string, optionsSignature: string, now: number): LoadedModel[] {
    return evictionVictims(this, model, optionsSignature, this.maxLoadedModels(), now);
  }

  /**
   * Mirrors a load the balancer is sending: evicts what Ollama will evict, records the model as
   * resident (used now, until `expiresAt`), and books `loadMs` on the node's one-at-a-time loader.
   * Returns the evicted models.
   */
  recordLoad(model: string, optionsSignature: string, now: number, expiresAt: number, loadMs: number): LoadedModel[] {
    const key = normalizeModel(model);
    const victims = this.evictionsFor(key, optionsSignature, now);
    for (const v of victims) this.loaded.delete(v.model);
    this.residency.loadingUntil = Math.max(this.residency.loadingUntil, now) + Math.max(0, loadMs);
    this.loaded.set(key, { model: key, optionsSignature, expiresAt, lastUsed: now, readyAt: this.residency.loadingUntil });
    return victims;
  }

  /**
   * A request of `model` ended here (well, or at least past its load): whatever load it waited for
   * is done, so the model is ready by now at the latest. A load estimate longer than the real load
   * no longer holds the model back in the slot-wait estimates and placement, and the loader is free
   * once no other load is booked after it.
   */
  modelReady(model: string, now: number): void {
    const l = this.loaded.get(normalizeModel(model));
    if (!l || l.readyAt === undefined || l.readyAt <= now) return;
    l.readyAt = now;
    let until = 0;
    for (const m of this.loaded.values()) until = Math.max(until, m.readyAt ?? 0);
    this.residency.loadingUntil = until;
  }

  /**
   * Mirrors what binding a request of (`model`, `optionsSignature`) here at `now` does to the
   * node's resident models, whichever replica bound it: `cold`, Ollama evicts what it must and
   * loads the model ({@link recordLoad}, `loadMs` on the loader); hot, the model is used now. Either
   * way it counts in the recent-use shares and stays loaded until `expiresAt` at least.
   */
  mirrorBinding(model: string, optionsSignature: string, cold: boolean, now: number, expiresAt: number, loadMs: number): void {
    if (cold) this.recordLoad(model, optionsSignature, now, expiresAt, loadMs);
    else this.touchModel(model, now, expiresAt);
    this.residency.noteBinding(model);
  }

  /** A resident model was used now (bound, or finished a request): Ollama's LRU order and expiry. */
  touchModel(model: string, now: number, expiresAt?: number): void {
    const l = this.loaded.get(normalizeModel(model));
    if (!l) return;
    // Never back in time: another replica's binding may be learned after a later local use.
    l.lastUsed = Math.max(l.lastUsed ?? 0, now);
    if (expiresAt !== undefined) l.expiresAt = Math.max(l.expiresAt, expiresAt);
  }

  /** Takes part in routing at all: enabled, not draining, not down, breaker willing. */
  isRoutable(now: number): boolean {
    return this.spec.enabled && !this.adminDisabled && !this.draining && this.health !== 'UNHEALTHY' && this.breaker.canAttempt(now);
  }

  /**
   * The node's resource signals (CPU load, memory, GPU memory and utilisation, from its
   * `metricsUrl`) at `now` (the routing context's clock): the last scrape's numbers, or undefined
   * when the node has no exporter, its last scrape failed, or the numbers are stale. Reading it is
   * a field read and a comparison, fit for every routing decision; age is `now - scrapedAt`.
   *
   * @example
   * const r = node.resources(ctx.now);
   * const cpu = r?.cpuLoadPerCore; // undefined: unknown, to be scored neutrally
   */
  resources(now: number): NodeResources | undefined {
    const r = this.resourceSample;
    return r !== undefined && now < r.staleAt ? r : undefined;
  }

  /** In-flight relative to capacity, in [0, 1+]. */
  load(): number {
    return this.spec.maxConcurrentRequests > 0 ? this.inFlight / this.spec.maxConcurrentRequests : 1;
  }
}
