import type { BalancerConfig } from '../config/types';
import { InvalidNodeError } from '../errors';
import { normalizeModel } from '../model-names';
import type { Scheduler } from '../scheduler/scheduler';
import { type LoadedModel, type NodeSpec, PoolNode } from './node';

/**
 * The changes to pool state that do not come from requests: health and discovery results, admin
 * commands and config reloads. Each is a function the scheduler applies as an event, so the
 * scheduler stays the single writer of pool state.
 */

/** A health check's result, as the health monitor reports it. */
export interface HealthResultLike {
  nodeId: string;
  ok: boolean;
  error?: string;
}

/** A discovery result: the node's models (`/api/tags`) and what it has loaded (`/api/ps`). */
export interface DiscoveryResultLike {
  nodeId: string;
  ok: boolean;
  models?: readonly (string | { name: string })[];
  loaded?: readonly LoadedModel[];
  /** Epoch ms when `/api/ps` was read (a discovery's `checkedAt − latencyMs`); default: when applied. */
  probedAt?: number;
}

/** Health thresholds from `healthCheck`. */
export type HealthThresholds = { degradedThreshold: number; downThreshold: number };

/** The next health state after a check: one success restores HEALTHY; failures degrade, then take down. */
export type NextHealth = (
  node: Pick<PoolNode, 'health' | 'consecutiveHealthFailures'>,
  ok: boolean,
  t: HealthThresholds,
) => Pick<PoolNode, 'health' | 'consecutiveHealthFailures'>;

export function applyHealth(s: Scheduler, r: HealthResultLike, nextHealth: NextHealth, now: number): void {
  const node = s.nodes.get(r.nodeId);
  if (!node) return;
  const next = nextHealth(node, r.ok, s.config.healthCheck);
  node.health = next.health;
  node.consecutiveHealthFailures = next.consecutiveHealthFailures;
  node.lastHealthCheck = now;
  if (!r.ok && r.error) node.lastError = r.error;
  // A node that answers again gets its trial requests now rather than after the full recovery time.
  if (r.ok && node.breaker.state === 'open') node.breaker.allowTrials();
}

export function applyDiscovery(s: Scheduler, r: DiscoveryResultLike, now: number): void {
  const node = s.nodes.get(r.nodeId);
  if (!node || !r.ok) return;
  if (r.models) {
    node.discoveredModels = new Set(r.models.map((m) => normalizeModel(typeof m === 'string' ? m : m.name)));
    // Fresh knowledge replaces what failed requests taught us (a model may have been pulled since).
    node.missingModels.clear();
  }
  if (r.loaded) applyPs(node, r.loaded, r.probedAt ?? now, now);
}

/**
 * Brings a node's resident models in line with `/api/ps` (read at `probedAt`), and learns its
 * model limit from it (see ResidentModels): the count shown is a lower bound, and a model gone
 * before its expiry with nothing in flight was evicted, so the node was full.
 */
function applyPs(node: PoolNode, loaded: readonly LoadedModel[], probedAt: number, now: number): void {
  const seen = new Set<string>();
  for (const l of loaded) {
    const key = normalizeModel(l.model);
    seen.add(key);
    const ours = node.loaded.get(key);
    // /api/ps does not say which options a runner was loaded with; keep what our own dispatch knew.
    node.loaded.set(key, {
      model: key,
      optionsSignature: ours?.optionsSignature ?? l.optionsSignature ?? null,
      expiresAt: l.expiresAt,
      sizeVram: l.sizeVram,
      lastUsed: ours?.lastUsed ?? 0,
    });
  }
  let evicted = false;
  for (const [key, l] of node.loaded) {
    if (seen.has(key)) continue;
    // Gone from /api/ps means unloaded — unless we sent it a request since (then it is loading), or
    // used it after the probe read the list.
    if ((node.inFlightByModel.get(key) ?? 0) > 0 || (l.lastUsed ?? 0) >= probedAt) continue;
    if (l.expiresAt > now) evicted = true;
    node.loaded.delete(key);
  }
  node.residency.noteObserved(seen.size, evicted, node.spec.maxLoadedModels);
}

/** An admin command on one node. */
export type NodeCommand = 'enable' | 'disable' | 'drain';

export function applyNodeCommand(s: Scheduler, nodeId: string, cmd: NodeCommand): PoolNode {
  const node = s.nodes.get(nodeId);
  if (!node || node.removed) throw new InvalidNodeError(`no node '${nodeId}'`, 404);
  if (cmd === 'enable') {
    node.adminDisabled = false;
    node.draining = false;
  } else if (cmd === 'disable') node.adminDisabled = true;
  else node.draining = true;
  return node;
}

/** Adds a node (admin API). */
export function addNode(s: Scheduler, spec: NodeSpec): PoolNode {
  const existing = s.nodes.get(spec.id);
  if (existing && !existing.removed) throw new InvalidNodeError(`node '${spec.id}' already exists`, 409);
  if (existing) {
    // Removed but still finishing requests: bring back the same node, so that their completions
    // free the slots it counts (a new PoolNode would start at 0 and be sent more than its slots).
    existing.spec = spec;
    existing.removed = false;
    existing.draining = false;
    existing.adminDisabled = false;
    existing.breaker.reconfigure(breakerOptions(s.config));
    s.syncDispatcher();
    return existing;
  }
  const node = new PoolNode(spec, breakerOptions(s.config));
  s.nodes.set(spec.id, node);
  s.syncDispatcher();
  return node;
}

/** Removes a node after its in-flight requests finish (admin API, or a reload that dropped it). */
export function removeNode(s: Scheduler, nodeId: string): void {
  const node = s.nodes.get(nodeId);
  if (!node) throw new InvalidNodeError(`no node '${nodeId}'`, 404);
  node.removed = true;
  node.draining = true;
  if (node.inFlight === 0) s.dropNode(node);
}

/**
 * Applies a reloaded config. Kept: in-flight counts, the waiting queue, breaker states and
 * everything learned about nodes that still exist. Nodes that disappeared drain and go.
 */
export function applyConfig(s: Scheduler, cfg: BalancerConfig, createStrategy: (name: string) => import('../strategies/strategy').Strategy): void {
  const strategyChanged = cfg.strategy.type !== s.config.strategy.type;
  s.config = cfg;
  const keep = new Set(cfg.nodes.map((n) => n.id));
  for (const spec of cfg.nodes) {
    const node = s.nodes.get(spec.id);
    if (node) {
      node.spec = spec;
      if (node.removed) {
        // Back after a removal it was still draining from. An admin drain, by contrast, survives reloads.
        node.removed = false;
        node.draining = false;
      }
      node.breaker.reconfigure(breakerOptions(cfg));
    } else s.nodes.set(spec.id, new PoolNode(spec, breakerOptions(cfg)));
  }
  for (const node of [...s.nodes.values()]) if (!keep.has(node.id)) removeNode(s, node.id);
  s.estimates.retainNodes(keep);
  if (strategyChanged) s.strategy = createStrategy(cfg.strategy.type);
  s.syncDispatcher();
}

function breakerOptions(cfg: BalancerConfig): { failureThreshold: number; recoveryMs: number; halfOpenRequests: number } {
  return {
    failureThreshold: cfg.healthCheck.circuitBreakerFailureThreshold,
    recoveryMs: cfg.healthCheck.circuitBreakerRecoveryMs,
    halfOpenRequests: cfg.healthCheck.halfOpenRequests,
  };
}
