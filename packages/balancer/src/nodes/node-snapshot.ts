import type { BreakerState } from './circuit-breaker';
import type { HealthState, PoolNode } from './node';
import { redactCredentials } from './node-url';
import { type ResourceSignals, resourcesView } from './resource-signals';

/** A read-only copy of one node's state. */
export interface NodeSnapshot {
  id: string;
  /** The node's URL as it may be shown: a password in it is masked (`http://user:***@host`). */
  url: string;
  health: HealthState;
  enabled: boolean;
  adminDisabled: boolean;
  draining: boolean;
  inFlight: number;
  maxConcurrent: number;
  weight: number;
  priority: number;
  tags: string[];
  /** Models configured or discovered there (normalised). */
  models: string[];
  /**
   * Models resident there, with the options signature when known and the expiry (epoch ms); for a
   * load the balancer sent, `readyAt`: when it expects the load done (epoch ms; later than now while loading).
   */
  loadedModels: { model: string; optionsSignature: string | null; expiresAt: number; readyAt?: number }[];
  breakerState: BreakerState;
  totalRequests: number;
  failedRequests: number;
  lastError: string;
  /** Removed (admin API or reload) and kept only until its in-flight requests finish. */
  removed: boolean;
  /** Replicas: requests of other replicas holding its slots, as this replica knows them (absent when none). */
  remoteHolders?: number;
  /** Replicas: the node's slots this replica counts as taken by others (Redis's last count, or, out of Redis, those beyond its share); absent when none. */
  heldElsewhere?: number;
  /** The exporter's URL (`metricsUrl`), masked as `url` is; absent when the node has none. */
  metricsUrl?: string;
  /**
   * The node's resource signals and their age in ms, as strategies see them (see
   * `PoolNode.resources`); absent without an exporter, after a failed scrape, or when stale.
   */
  resources?: ResourceSignals & { ageMs: number };
}

/** A snapshot of `n`; `now` (epoch ms) dates its resource signals. */
export function snapshotNode(n: PoolNode, now: number = Date.now()): NodeSnapshot {
  const resources = resourcesView(n.resources(now), now);
  return {
    id: n.id,
    // Snapshots are what every view shows (/health, /api/stats, /admin, logs, the CLI): the one
    // place where a node's credentials are masked for all of them.
    url: redactCredentials(n.url),
    health: n.health,
    enabled: n.spec.enabled,
    adminDisabled: n.adminDisabled,
    draining: n.draining,
    inFlight: n.inFlight,
    maxConcurrent: n.maxConcurrent,
    weight: n.spec.weight,
    priority: n.spec.priority,
    tags: [...n.spec.tags],
    models: [...new Set([...n.spec.models, ...(n.discoveredModels ?? [])])].sort(),
    loadedModels: [...n.loaded.values()].map((l) => ({
      model: l.model,
      optionsSignature: l.optionsSignature,
      expiresAt: l.expiresAt,
      ...(l.readyAt !== undefined && { readyAt: l.readyAt }),
    })),
    breakerState: n.breaker.state,
    totalRequests: n.totalRequests,
    failedRequests: n.failedRequests,
    lastError: n.lastError,
    removed: n.removed,
    ...(n.remoteHolders > 0 && { remoteHolders: n.remoteHolders }),
    ...(n.heldElsewhere > 0 && { heldElsewhere: n.heldElsewhere }),
    ...(n.spec.metricsUrl !== undefined && { metricsUrl: redactCredentials(n.spec.metricsUrl) }),
    ...(resources !== undefined && { resources }),
  };
}

/**
 * Whether a node can take requests now: enabled, not disabled by an admin, not draining, not
 * UNHEALTHY, and its breaker not open. `/health` counts these; model listings and the embedding
 * splitter ask only these.
 *
 * @example registry.getAllNodes().filter(canServe);
 */
export function canServe(n: NodeSnapshot): boolean {
  return n.enabled && !n.adminDisabled && !n.draining && n.health !== 'UNHEALTHY' && n.breakerState !== 'open';
}
