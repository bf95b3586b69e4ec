import { canServe, type NodeSnapshot, type PoolView } from '@ollama-ring/balancer';
import type { JobProgress } from '../batch/jobs';
import type { GatewayContext } from '../gateway-context';
import { batchProgress } from '../http/batch-context';
import { statsOf } from '../http/stats-routes';
import type { SeriesRecorder, SeriesSample } from './series';

/** A model resident on a node, as the dashboard shows it. */
export interface DashboardModel {
  model: string;
  /** The reload-forcing options it was loaded with (`num_ctx=8192`); '' for the defaults, null when unknown. */
  variant: string | null;
  /** `loading`: a load the balancer sent is not done yet; `expiring`: unloads within `EXPIRING_MS`. */
  state: 'hot' | 'loading' | 'expiring';
  /** Until it unloads, ms; null for never. */
  expiresInMs: number | null;
}

/** One node on the dashboard: `/api/stats`' figures for it, and what the dashboard adds. */
export interface DashboardNode {
  id: string;
  url: string;
  /** `healthy`, `degraded`, `unhealthy` or `unknown`, as `/api/stats` says. */
  state: string;
  breaker: NodeSnapshot['breakerState'];
  enabled: boolean;
  adminDisabled: boolean;
  draining: boolean;
  canServe: boolean;
  inFlight: number;
  slots: number;
  totalRequests: number;
  failedRequests: number;
  errorRate: number;
  utilization: number;
  /** Over the last few seconds. */
  reqPerSec: number;
  tokensPerSec: number;
  models: DashboardModel[];
  lastError?: string;
}

/** Requests waiting for a slot, for one model and class. */
export interface QueueGroup {
  model: string;
  class: string;
  waiting: number;
  oldestWaitMs: number;
}

/** What every open dashboard gets each tick: the pool, the queue, the jobs, and the second just ended. */
export interface DashboardSnapshot {
  at: number;
  strategy: string;
  /** Requests admitted and not finished (queued, backing off, or in flight). */
  live: number;
  nodes: DashboardNode[];
  queue: { depth: number; oldestWaitMs: number; groups: QueueGroup[] };
  /** The batch jobs running here: OpenAI's (`/v1/batches`) and the embedding jobs (`/api/embed/batch`), which run as batch jobs. */
  jobs: { batches: JobProgress[] };
  sample: SeriesSample;
}

/** A model that unloads sooner than this shows as expiring. */
export const EXPIRING_MS = 30_000;
/** Node rates are averaged over this many seconds, so the numbers do not flicker. */
const RATE_SECONDS = 5;

/**
 * The dashboard's snapshot, taken once per tick for every page: `/api/stats`' figures (`statsOf`,
 * over the same pool view) with the view's resident models and queue detail, the recorder's rates
 * per node, and the jobs.
 *
 * @example const snap = await dashboardSnapshot(gw, series, series.close(Date.now()));
 */
export async function dashboardSnapshot(gw: GatewayContext, series: SeriesRecorder, sample: SeriesSample): Promise<DashboardSnapshot> {
  const view = gw.factory.getPoolView();
  const stats = await statsOf(gw, view);
  const now = Date.now();
  const rates = series.rates(RATE_SECONDS);
  const nodes: DashboardNode[] = [];
  for (const n of view.nodes) {
    const st = stats.instances[n.id];
    if (!st) continue; // removed, finishing its last requests
    const r = rates.get(n.id);
    nodes.push({
      id: n.id,
      url: st.url,
      state: st.state,
      breaker: st.circuit_breaker_state,
      enabled: st.enabled,
      adminDisabled: st.admin_disabled,
      draining: st.draining,
      canServe: canServe(n),
      inFlight: st.active_requests,
      slots: st.max_concurrent,
      totalRequests: st.total_requests,
      failedRequests: st.failed_requests,
      errorRate: st.error_rate,
      utilization: st.utilization.last_minute,
      reqPerSec: round1(r?.reqPerSec ?? 0),
      tokensPerSec: round1(r?.tokensPerSec ?? 0),
      models: modelsOf(n, now),
      ...(n.lastError ? { lastError: n.lastError } : {}),
    });
  }
  return {
    at: now,
    strategy: stats.strategy,
    live: stats.requests_in_progress,
    nodes,
    queue: queueOf(view, now),
    jobs: { batches: await batchProgress(gw) },
    sample,
  };
}

function modelsOf(n: NodeSnapshot, now: number): DashboardModel[] {
  return n.loadedModels
    .filter((l) => l.expiresAt > now)
    .map((l): DashboardModel => {
      const left = Number.isFinite(l.expiresAt) ? l.expiresAt - now : null;
      const state = l.readyAt !== undefined && l.readyAt > now ? 'loading' : left !== null && left < EXPIRING_MS ? 'expiring' : 'hot';
      return { model: l.model.replace(/:latest$/, ''), variant: l.optionsSignature, state, expiresInMs: left === null ? null : Math.round(left) };
    })
    .sort((a, b) => a.model.localeCompare(b.model));
}

/** The waiting requests by model and class, the longest-waiting group first. */
function queueOf(view: PoolView, now: number): DashboardSnapshot['queue'] {
  const groups = new Map<string, QueueGroup>();
  let oldest = 0;
  for (const w of view.queue.waiting) {
    const waited = Math.max(0, now - w.queuedAt);
    oldest = Math.max(oldest, waited);
    const key = `${w.model}\u0000${w.requestClass}`;
    const g = groups.get(key);
    if (g) {
      g.waiting++;
      g.oldestWaitMs = Math.max(g.oldestWaitMs, waited);
    } else groups.set(key, { model: w.model.replace(/:latest$/, ''), class: w.requestClass, waiting: 1, oldestWaitMs: waited });
  }
  return {
    depth: view.queue.depth,
    oldestWaitMs: Math.round(oldest),
    groups: [...groups.values()].map((g) => ({ ...g, oldestWaitMs: Math.round(g.oldestWaitMs) })).sort((a, b) => b.oldestWaitMs - a.oldestWaitMs),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
