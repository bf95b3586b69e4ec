import type { ApiKeyConfig, BalancerConfig, BucketConfig } from '../config/types';
import { RateLimitedError } from '../errors';
import { localRateShare } from '../shared/local-share';
import { TokenBucket, isUnlimited, sameBucketConfig, type TakeResult } from './token-bucket';

/**
 * What the rate limiter needs from the config; `BalancerConfig` fits via {@link rateLimitSettings}.
 *
 * @example
 * const s: RateLimitSettings = { global: { rps: 100, burst: 200 }, perClient: { rps: 5, burst: 10 }, perNode: { rps: 0, burst: 0 } };
 */
export interface RateLimitSettings {
  global: BucketConfig;
  /** The default limit of each client key. */
  perClient: BucketConfig;
  perNode: BucketConfig;
  /** Limits of particular client keys, replacing `perClient` for them (`{ rps: 0 }` = unlimited). */
  overrides?: ReadonlyMap<string, BucketConfig>;
  /** Most client buckets kept at once; the least recently used go first. Default 10 000. */
  maxClients?: number;
}

/**
 * Default bound on client buckets: about 1 MB of state at worst.
 *
 * @example
 * new RateLimiter({ ...settings, maxClients: DEFAULT_MAX_CLIENTS * 10 }, now);
 */
export const DEFAULT_MAX_CLIENTS = 10_000;

const OFF: BucketConfig = { rps: 0, burst: 0 };

/**
 * The limiter settings of a full config: the client key of an API key is the key itself, so an
 * API key's `rateLimit` overrides `perClient` for requests that present it.
 *
 * @example
 * const limiter = new RateLimiter(rateLimitSettings(config), Date.now());
 */
export function rateLimitSettings(cfg: Pick<BalancerConfig, 'rateLimit' | 'auth'>): RateLimitSettings {
  return {
    global: cfg.rateLimit.global,
    perClient: cfg.rateLimit.perClient,
    perNode: cfg.rateLimit.perNode ?? OFF,
    overrides: apiKeyOverrides(cfg.auth?.apiKeys ?? []),
  };
}

function apiKeyOverrides(keys: readonly ApiKeyConfig[]): Map<string, BucketConfig> {
  const m = new Map<string, BucketConfig>();
  for (const k of keys) if (k.rateLimit) m.set(k.key, k.rateLimit);
  return m;
}

/**
 * Token-bucket rate limits: one global bucket, one per client key and one per node. Owned and
 * called by the scheduler only (single writer); time is passed in.
 *
 * Memory stays bounded: client buckets are created on a client's first request and kept in
 * least-recently-used order (a `Map` re-inserted on each use). A bucket that has refilled completely
 * is indistinguishable from a new one, so every check drops such buckets from the cold end, and the
 * map never holds more than `maxClients`: past that the least recently used bucket is dropped even
 * if it is not yet full (that client gets a fresh burst; it only happens with more distinct clients
 * active inside one refill window than the cap).
 *
 * @example
 * const limiter = new RateLimiter(rateLimitSettings(config), now);
 * const err = limiter.check(clientKey, now); // admission: global + client
 * if (err) return fail(err);                 // RateLimitedError, with retryAfterSec
 * if (limiter.checkNode('gpu-1', now) === null) bind(req, 'gpu-1');
 */
export class RateLimiter {
  private settings!: Required<RateLimitSettings>;
  private global!: TokenBucket;
  private readonly clients = new Map<string, TokenBucket>();
  private readonly nodes = new Map<string, TokenBucket>();
  /** Replicas whose share of each node's rate this limiter applies (1: the whole rate). */
  private nodeShare = 1;

  constructor(settings: RateLimitSettings, now: number) {
    this.apply(settings, now);
  }

  /** Client buckets held now (for tests and the admin status). */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Admission: takes one token from the global bucket and from the client's, or neither. A client
   * key that is undefined or empty is limited by the global bucket only.
   * Returns the error to fail the request with, or null.
   */
  check(clientKey: string | undefined, now: number): RateLimitedError | null {
    this.evictIdle(now);
    const client = clientKey ? this.clientBucket(clientKey, now) : null;
    const g = this.global.peek(now);
    const c: TakeResult = client ? client.peek(now) : { ok: true };
    if (!g.ok || !c.ok) {
      // Both must pass, so the caller has to wait for the slower of the two.
      const gWait = g.ok ? 0 : g.retryAfterMs;
      const cWait = c.ok ? 0 : c.retryAfterMs;
      return gWait >= cWait ? rateLimited('global', gWait) : rateLimited('client', cWait);
    }
    this.global.tryTake(now);
    client?.tryTake(now);
    return null;
  }

  /** Routing: takes one token from the node's bucket, or says how long until it has one. */
  checkNode(nodeId: string, now: number): RateLimitedError | null {
    const b = this.nodeBucket(nodeId, now);
    if (!b) return null;
    const r = b.tryTake(now);
    return r.ok ? null : rateLimited('node', r.retryAfterMs);
  }

  /** Whether the node could take a request now, without using a token (for filtering candidates). */
  nodeAvailable(nodeId: string, now: number): boolean {
    const b = this.nodeBucket(nodeId, now);
    return !b || b.peek(now).ok;
  }

  /**
   * Cuts every node's rate to one replica's share (`localRateShare`) while replicas that share the
   * node's rate in Redis cannot reach it; 1 gives the whole rate back. Buckets carry their level
   * over, clamped to the new capacity.
   */
  shareNodes(replicas: number, now: number): void {
    this.nodeShare = Math.max(1, replicas);
    const cfg = this.nodeConfig();
    for (const [id, b] of this.nodes) retune(this.nodes, id, b, cfg, now);
  }

  /** Forgets a node that left the pool. */
  removeNode(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  /**
   * A config reload. Buckets whose effective settings are unchanged keep their level; changed ones
   * carry it over clamped to the new capacity; buckets whose limit is now off are dropped.
   */
  reconfigure(settings: RateLimitSettings, now: number): void {
    this.apply(settings, now);
  }

  private apply(settings: RateLimitSettings, now: number): void {
    this.settings = {
      global: settings.global,
      perClient: settings.perClient,
      perNode: settings.perNode,
      overrides: settings.overrides ?? new Map(),
      maxClients: Math.max(1, settings.maxClients ?? DEFAULT_MAX_CLIENTS),
    };
    if (this.global) this.global.reconfigure(settings.global, now);
    else this.global = new TokenBucket(settings.global, now);
    for (const [key, b] of this.clients) retune(this.clients, key, b, this.clientConfig(key), now);
    for (const [id, b] of this.nodes) retune(this.nodes, id, b, this.nodeConfig(), now);
    while (this.clients.size > this.settings.maxClients) this.dropColdestClient();
  }

  private clientConfig(key: string): BucketConfig {
    return clientBucketConfig(this.settings, key);
  }

  private clientBucket(key: string, now: number): TokenBucket | null {
    const existing = this.clients.get(key);
    if (existing) {
      // Re-insert to move it to the hot end of the LRU order.
      this.clients.delete(key);
      this.clients.set(key, existing);
      return existing;
    }
    const cfg = this.clientConfig(key);
    if (isUnlimited(cfg)) return null;
    if (this.clients.size >= this.settings.maxClients) this.dropColdestClient();
    const b = new TokenBucket(cfg, now);
    this.clients.set(key, b);
    return b;
  }

  /** Each node's bucket: `perNode`, or this replica's share of it ({@link shareNodes}). */
  private nodeConfig(): BucketConfig {
    return localRateShare(this.settings.perNode, this.nodeShare);
  }

  private nodeBucket(id: string, now: number): TokenBucket | null {
    const cfg = this.nodeConfig();
    if (isUnlimited(cfg)) return null;
    let b = this.nodes.get(id);
    if (!b) {
      b = new TokenBucket(cfg, now);
      this.nodes.set(id, b);
    }
    return b;
  }

  // The map is in LRU order, so full (forgettable) buckets gather at the front; stopping at the
  // first one still refilling keeps this O(evicted) per call.
  private evictIdle(now: number): void {
    for (const [key, b] of this.clients) {
      if (!b.isFull(now)) break;
      this.clients.delete(key);
    }
  }

  private dropColdestClient(): void {
    const first = this.clients.keys().next();
    if (!first.done) this.clients.delete(first.value);
  }
}

function retune(map: Map<string, TokenBucket>, key: string, b: TokenBucket, cfg: BucketConfig, now: number): void {
  if (isUnlimited(cfg)) map.delete(key);
  else if (!sameBucketConfig(b.config, cfg)) b.reconfigure(cfg, now);
}

/**
 * The bucket a client key gets: its API key's own `rateLimit`, else `perClient`.
 *
 * @example clientBucketConfig(rateLimitSettings(config), 'sk-team-a'); // { rps: 5, burst: 10 }
 */
export function clientBucketConfig(settings: RateLimitSettings, key: string): BucketConfig {
  return settings.overrides?.get(key) ?? settings.perClient;
}

/**
 * The error of a refused take: which limit, and when to try again.
 *
 * @example rateLimited('client', 1500).retryAfterSec; // 1.5
 */
export function rateLimited(limit: 'global' | 'client' | 'node', retryAfterMs: number): RateLimitedError {
  // A request larger than the bucket can never pass; a minute keeps Retry-After a finite number.
  const ms = Number.isFinite(retryAfterMs) ? retryAfterMs : 60_000;
  return new RateLimitedError(limit, ms / 1000);
}
