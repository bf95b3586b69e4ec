import { IMBALANCE_DEFINITION, type NodeSnapshot, type PoolView, poolUtilization } from '@ollama-ring/balancer';
import type { GatewayContext } from '../gateway-context';
import { requireClient, sendJson } from './route-util';
import type { Router } from './router';

/** One node in `/api/stats` (the Python pool seed's field names, so its dashboards keep working). */
export interface InstanceStats {
  url: string;
  /** `healthy`, `degraded`, `unhealthy` or `unknown` (not checked yet). */
  state: string;
  enabled: boolean;
  admin_disabled: boolean;
  draining: boolean;
  active_requests: number;
  max_concurrent: number;
  total_requests: number;
  failed_requests: number;
  /** Mean response time in ms (the learned EWMA of arrival to last byte); 0 before any request. */
  avg_response_time: number;
  /** Failed requests as a percentage of requests sent to the node. */
  error_rate: number;
  /** Successful health checks as a percentage of all health checks; null before the first one. */
  availability: number | null;
  /** Models resident on the node now (from `/api/ps` and our own dispatches). */
  models_loaded: string[];
  circuit_breaker_open: boolean;
  circuit_breaker_state: NodeSnapshot['breakerState'];
  /** The performance seed's `cpu_load`: `node_load1` per CPU from the node's exporter; null without signals. */
  cpu_load: number | null;
  /** The performance seed's `gpu_free_mem`: free GPU memory in MiB from the node's exporter; null without signals. */
  gpu_free_mem: number | null;
  /** Every resource signal of the node's exporter (`nodes[].metricsUrl`) and its age; null without fresh ones. */
  resources: ResourceStats | null;
  /** Busy slot time ÷ capacity slot time (0–1), over the last minute and since the node joined the pool. */
  utilization: { last_minute: number; since_start: number };
  /** Replicas (`state.backend: redis`): other replicas' requests holding the node's slots, as this one knows them; absent when none. */
  remote_holders?: number;
  /** Replicas: the node's slots this replica counts as taken by the others (Redis's last count; out of Redis, those beyond its local share); absent when none. */
  held_elsewhere?: number;
}

/** A node's resource signals in `/api/stats` (absent signals are left out). */
export interface ResourceStats {
  cpu_load_per_core?: number;
  mem_free_ratio?: number;
  gpu_mem_free_bytes?: number;
  gpu_mem_total_bytes?: number;
  gpu_util?: number;
  gpus?: number;
  age_ms: number;
}

/** Two figures, over the last minute and since start. */
interface Windows<T> {
  last_minute: T;
  since_start: T;
}

/** `/api/stats`' `load_imbalance`: how unevenly the nodes that serve the same models are used. */
export interface ImbalanceStats extends Windows<number | null> {
  /** How the figures are computed (`IMBALANCE_DEFINITION`). */
  definition: string;
  /** Per model that two or more nodes serve: those nodes, and their spread. */
  by_model: Record<string, Windows<number> & { nodes: readonly string[] }>;
}

/** `/api/stats`' body. */
export interface StatsBody {
  total_instances: number;
  healthy_instances: number;
  degraded_instances: number;
  unhealthy_instances: number;
  unknown_instances: number;
  strategy: string;
  /** Requests admitted and not finished: queued, backing off, or in flight. */
  requests_in_progress: number;
  queue: { depth: number; by_model: Record<string, number> };
  load_imbalance: ImbalanceStats;
  instances: Record<string, InstanceStats>;
}

/**
 * `GET /api/stats`: node counts by health, per-node activity, error rate, availability, resident
 * models, resource signals (a node with `metricsUrl`) and utilization, the pool's load imbalance,
 * and the wait queue's depth per model. Client API keys apply, as for the rest of `/api`.
 *
 * @example new Gateway({ factory, routes: [addStatsRoutes] });
 */
export function addStatsRoutes(router: Router, gw: GatewayContext): void {
  router.add('GET', '/api/stats', async ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    sendJson(res, 200, await statsOf(gw));
  });
}

/**
 * The pool's statistics, read from snapshots, the learned estimates and the health-check counter;
 * from `view` when the caller has taken one already (the dashboard reads more of the same view).
 *
 * @example (await statsOf(gw)).instances['gpu-1'].active_requests;
 */
export async function statsOf(gw: GatewayContext, view: PoolView = gw.factory.getPoolView()): Promise<StatsBody> {
  const nodes = view.nodes.filter((n) => !n.removed);
  const checks = await healthCheckCounts(gw);
  const now = Date.now();
  const count = (h: NodeSnapshot['health']) => nodes.filter((n) => n.health === h).length;
  const util = poolUtilization(view);
  const instances: Record<string, InstanceStats> = {};
  for (const n of nodes) {
    const c = checks.get(n.id);
    const total = c ? c.ok + c.failed : 0;
    instances[n.id] = {
      url: n.url,
      state: n.health.toLowerCase(),
      enabled: n.enabled,
      admin_disabled: n.adminDisabled,
      draining: n.draining,
      active_requests: n.inFlight,
      max_concurrent: n.maxConcurrent,
      total_requests: n.totalRequests,
      failed_requests: n.failedRequests,
      avg_response_time: round(view.estimates[n.id]?.latencyMs ?? 0),
      error_rate: n.totalRequests > 0 ? round((100 * n.failedRequests) / n.totalRequests) : 0,
      availability: total > 0 ? round((100 * (c?.ok ?? 0)) / total) : null,
      models_loaded: n.loadedModels
        .filter((l) => l.expiresAt > now)
        .map((l) => l.model)
        .sort(),
      circuit_breaker_open: n.breakerState === 'open',
      circuit_breaker_state: n.breakerState,
      ...resourceStats(n.resources),
      utilization: { last_minute: fraction(util.nodes[n.id]?.lastMinute ?? 0), since_start: fraction(util.nodes[n.id]?.sinceStart ?? 0) },
      ...(n.remoteHolders !== undefined && { remote_holders: n.remoteHolders }),
      ...(n.heldElsewhere !== undefined && { held_elsewhere: n.heldElsewhere }),
    };
  }

  return {
    total_instances: nodes.length,
    healthy_instances: count('HEALTHY'),
    degraded_instances: count('DEGRADED'),
    unhealthy_instances: count('UNHEALTHY'),
    unknown_instances: count('UNKNOWN'),
    strategy: view.strategy,
    requests_in_progress: view.live,
    queue: { depth: view.queue.depth, by_model: { ...view.queue.byModel } },
    load_imbalance: {
      definition: IMBALANCE_DEFINITION,
      last_minute: util.imbalance.lastMinute === null ? null : fraction(util.imbalance.lastMinute),
      since_start: util.imbalance.sinceStart === null ? null : fraction(util.imbalance.sinceStart),
      by_model: Object.fromEntries(
        Object.entries(util.imbalance.byModel).map(([m, g]) => [m, { nodes: g.nodes, last_minute: fraction(g.lastMinute), since_start: fraction(g.sinceStart) }]),
      ),
    },
    instances,
  };
}

/** Health checks per node, ok and failed, from the metrics' `health_checks_total` counter. */
async function healthCheckCounts(gw: GatewayContext): Promise<Map<string, { ok: number; failed: number }>> {
  const out = new Map<string, { ok: number; failed: number }>();
  const m = gw.factory.getMetricsRegistry().metrics;
  const counter = m.registry.getSingleMetric(`${m.prefix}health_checks_total`);
  if (!counter) return out;
  for (const v of (await counter.get()).values) {
    const node = String(v.labels.node ?? '');
    const row = out.get(node) ?? { ok: 0, failed: 0 };
    if (v.labels.outcome === 'ok') row.ok += v.value;
    else row.failed += v.value;
    out.set(node, row);
  }
  return out;
}

const MIB = 2 ** 20;

function resourceStats(r: NodeSnapshot['resources']): Pick<InstanceStats, 'cpu_load' | 'gpu_free_mem' | 'resources'> {
  if (!r) return { cpu_load: null, gpu_free_mem: null, resources: null };
  return {
    cpu_load: r.cpuLoadPerCore ?? null,
    gpu_free_mem: r.gpuMemFreeBytes === undefined ? null : Math.round(r.gpuMemFreeBytes / MIB),
    resources: {
      cpu_load_per_core: r.cpuLoadPerCore,
      mem_free_ratio: r.memFreeRatio,
      gpu_mem_free_bytes: r.gpuMemFreeBytes,
      gpu_mem_total_bytes: r.gpuMemTotalBytes,
      gpu_util: r.gpuUtil,
      gpus: r.gpuCount,
      age_ms: Math.round(r.ageMs),
    },
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A ratio, to four decimals. */
function fraction(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
