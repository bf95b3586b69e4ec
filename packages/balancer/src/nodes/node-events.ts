import type { BalancerConfig, StrategyConfig } from '../config/types';
import { InvalidNodeError } from '../errors';
import { normalizeModel } from '@ollama-ring/protocol';
import type { HealthChecked, ModelsDiscovered, NodeAction, ResourcesScraped } from '../scheduler/scheduler-events';
import type { Estimates } from '../scheduler/estimates';
import type { Strategy } from '../strategies/strategy';
import { nextHealth } from './health-monitor';
import { type LoadedModel, type NodeSpec, PoolNode } from './node';
import { resourceMaxAgeMs } from './resource-signals';

/**
 * The scheduler's handlers of the events that do not come from requests: health and discovery
 * results, admin commands and config reloads. The scheduler calls them as it applies each event,
 * so it stays the single writer of pool state; they see only the membership slice of that state.
 */

/** The part of the scheduler's state that membership events read and write. */
export interface PoolMembership {
  readonly nodes: Map<string, PoolNode>;
  readonly estimates: Estimates;
  config: BalancerConfig;
  strategy: Strategy;
  /** The scheduler's clock (epoch ms): a node's utilization counts from when it joins. */
  now(): number;
  /** Keeps the dispatcher's connection pools in step with the node list. */
  syncDispatcher(): void;
  /** Forgets a removed node once it has nothing in flight. */
  dropNode(node: PoolNode): void;
}

export function applyHealth(s: PoolMembership, r: Omit<HealthChecked, 'type'>): void {
  const node = s.nodes.get(r.nodeId);
  if (!node) return;
  const next = nextHealth(node, r.ok, s.config.healthCheck);
  node.health = next.health;
  node.consecutiveHealthFailures = next.consecutiveHealthFailures;
  node.lastHealthCheck = r.at;
  if (!r.ok && r.error) node.lastError = r.error;
  // A node that answers again gets its trial requests now rather than after the full recovery time.
  // Not for the probe of a suspected node: suspicion decides that (a node that answers its probe but
  // keeps missing deadlines must not get a trial per miss).
  if (r.ok && !r.suspect && node.breaker.state === 'open') node.breaker.allowTrials();
}

/**
 * Keeps a scrape's signals on the node, dated, until they go stale ({@link resourceMaxAgeMs});
 * a scrape without signals (failed, or empty) clears them. Health is not touched.
 */
export function applyResources(s: PoolMembership, r: Omit<ResourcesScraped, 'type'>): void {
  const node = s.nodes.get(r.nodeId);
  if (!node) return;
  // A result of an exporter the node no longer has (a reload took its metricsUrl away) is dropped.
  if (!r.signals || node.spec.metricsUrl === undefined) {
    node.resourceSample = undefined;
    return;
  }
  node.resourceSample = Object.freeze({ ...r.signals, scrapedAt: r.at, staleAt: r.at + resourceMaxAgeMs(s.config) });
}

export function applyDiscovery(s: PoolMembership, r: Omit<ModelsDiscovered, 'type'>): void {
  const node = s.nodes.get(r.nodeId);
  if (!node) return;
  const now = r.at;
  if (r.models) {
    node.discoveredModels = new Set(r.models.map(normalizeModel));
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

export function applyNodeCommand(s: PoolMembership, nodeId: string, cmd: NodeAction): PoolNode {
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
export function addNode(s: PoolMembership, spec: NodeSpec): PoolNode {
  const existing = s.nodes.get(spec.id);
  if (existing && !existing.removed) throw new InvalidNodeError(`node '${spec.id}' already exists`, 409);
  if (existing) {
    // Removed but still finishing requests: bring back the same node, so that their completions
    // free the slots it counts (a new PoolNode would start at 0 and be sent more than its slots).
    if (spec.metricsUrl !== existing.spec.metricsUrl) existing.resourceSample = undefined;
    respec(s, existing, spec);
    existing.removed = false;
    existing.draining = false;
    existing.adminDisabled = false;
    existing.breaker.reconfigure(breakerOptions(s.config));
    s.syncDispatcher();
    return existing;
  }
  const node = new PoolNode(spec, breakerOptions(s.config), s.now());
  s.nodes.set(spec.id, node);
  s.syncDispatcher();
  return node;
}

/** Removes a node after its in-flight requests finish (admin API, or a reload that dropped it). */
export function removeNode(s: PoolMembership, nodeId: string): void {
  const node = s.nodes.get(nodeId);
  if (!node) throw new InvalidNodeError(`no node '${nodeId}'`, 404);
  node.removed = true;
  node.draining = true;
  if (node.inFlight === 0) s.dropNode(node);
}

/**
 * The config a reload puts in force: the new file's, plus the nodes added at run time, which are in
 * no file: the effective node list is the new config's, then every run-time node (not in
 * `configuredIds`, the previous file's) whose id it does not define (when it does, the config wins,
 * and the node belongs to the config from then on). With {@link applyConfig}, a reload keeps
 * in-flight counts, the waiting queue, breaker states, and what was learned about nodes that stay.
 */
export function withRuntimeNodes(s: Pick<PoolMembership, 'nodes'>, config: BalancerConfig, configuredIds: ReadonlySet<string>): BalancerConfig {
  const fileIds = new Set(config.nodes.map((n) => n.id));
  const runtime = [...s.nodes.values()].filter((n) => !n.removed && !configuredIds.has(n.id) && !fileIds.has(n.id));
  return runtime.length > 0 ? { ...config, nodes: [...config.nodes, ...runtime.map((n) => n.spec)] } : config;
}

/**
 * Applies a reloaded config. Kept: in-flight counts, the waiting queue, breaker states and
 * everything learned about nodes that still exist. Nodes that disappeared drain and go.
 */
export function applyConfig(s: PoolMembership, cfg: BalancerConfig, createStrategy: (name: string, settings: StrategyConfig) => Strategy): void {
  // Built first: a strategy that cannot be built (unknown name, invalid `hybrid` settings) rejects
  // the reload before anything has changed. The type or any of its settings makes a new one.
  const strategy = sameStrategySettings(cfg.strategy, s.config.strategy) ? undefined : createStrategy(cfg.strategy.type, cfg.strategy);
  s.config = cfg;
  const keep = new Set(cfg.nodes.map((n) => n.id));
  for (const spec of cfg.nodes) {
    const node = s.nodes.get(spec.id);
    if (node) {
      if (spec.metricsUrl !== node.spec.metricsUrl) node.resourceSample = undefined;
      respec(s, node, spec);
      if (node.removed) {
        // Back after a removal it was still draining from. An admin drain, by contrast, survives reloads.
        node.removed = false;
        node.draining = false;
      }
      node.breaker.reconfigure(breakerOptions(cfg));
    } else s.nodes.set(spec.id, new PoolNode(spec, breakerOptions(cfg), s.now()));
  }
  for (const node of [...s.nodes.values()]) if (!keep.has(node.id)) removeNode(s, node.id);
  s.estimates.retainNodes(keep);
  if (strategy) s.strategy = strategy;
  s.syncDispatcher();
}

/** Same strategy and same settings (reloads are rare: a deep comparison of plain config data is cheap enough). */
export function sameStrategySettings(a: BalancerConfig['strategy'], b: BalancerConfig['strategy']): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function breakerOptions(cfg: BalancerConfig): { failureThreshold: number; recoveryMs: number; halfOpenRequests: number } {
  return {
    failureThreshold: cfg.healthCheck.circuitBreakerFailureThreshold,
    recoveryMs: cfg.healthCheck.circuitBreakerRecoveryMs,
    halfOpenRequests: cfg.healthCheck.halfOpenRequests,
  };
}

/** Gives a node its new spec; its capacity until now is booked at the slots it had. */
function respec(s: PoolMembership, node: PoolNode, spec: NodeSpec): void {
  node.usage.advance(s.now(), node.inFlight, node.spec.maxConcurrentRequests);
  node.spec = spec;
}
