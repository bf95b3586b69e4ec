/** Reading a running gateway's pool for `status` (one shot and `--watch`): the endpoints, their two shapes, the table. */
import { renderTable } from './table';

/** One row of the table, from either endpoint's shape. */
export interface NodeRow {
  id: string;
  url: string;
  health: string;
  inFlight: number;
  slots: number;
  hot: string[];
  breaker: string;
  state: string;
  /** `total/failed` requests sent to the node. */
  requests: string;
  total: number;
}

/** Where `status` reads from. */
export interface StatusTarget {
  base: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * One read of the pool: `/admin/nodes`, or `/api/stats` when the admin API refuses; the raw body,
 * the endpoint it came from and its rows, or why there are none (a sentence for the user).
 */
export async function readPool(t: StatusTarget): Promise<{ body: unknown; source: string; rows: NodeRow[] } | { error: string }> {
  let body: unknown;
  let source: string;
  try {
    let res = await fetch(`${t.base}/admin/nodes`, { headers: t.headers, signal: AbortSignal.timeout(t.timeoutMs) });
    source = '/admin/nodes';
    if ([401, 403, 404].includes(res.status)) {
      await res.body?.cancel();
      res = await fetch(`${t.base}/api/stats`, { headers: t.headers, signal: AbortSignal.timeout(t.timeoutMs) });
      source = '/api/stats';
    }
    if (!res.ok) return { error: `${t.base}${source} answered ${res.status}: ${(await res.text()).slice(0, 300)}` };
    body = await res.json();
  } catch (e) {
    return { error: `cannot reach the gateway at ${t.base}: ${reason(e)}\n(is \`ollama-ring serve\` running there? --url sets the address)` };
  }
  const rows = nodeRows(body, Date.now());
  if (!rows) return { error: `${t.base}${source} did not answer with a node list` };
  return { body, source, rows };
}

function reason(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer in time';
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** Rows from `/admin/nodes` (`{nodes: [NodeSnapshot]}`) or `/api/stats` (`{instances: {id: …}}`). */
export function nodeRows(body: unknown, now: number): NodeRow[] | undefined {
  if (isObj(body) && Array.isArray(body.nodes)) {
    return body.nodes.filter(isObj).map((n) => ({
      id: str(n.id),
      url: str(n.url),
      health: str(n.health),
      inFlight: num(n.inFlight),
      slots: num(n.maxConcurrent),
      // JSON turns a never-expiring model's Infinity into null.
      hot: (Array.isArray(n.loadedModels) ? n.loadedModels.filter(isObj) : []).filter((l) => l.expiresAt === null || num(l.expiresAt) > now).map((l) => str(l.model)),
      breaker: str(n.breakerState),
      state: n.adminDisabled ? 'disabled' : n.draining ? 'draining' : n.enabled === false ? 'off' : 'on',
      requests: `${num(n.totalRequests)}/${num(n.failedRequests)}`,
      total: num(n.totalRequests),
    }));
  }
  if (isObj(body) && isObj(body.instances)) {
    return Object.entries(body.instances)
      .filter((e): e is [string, Obj] => isObj(e[1]))
      .map(([id, n]) => ({
        id,
        url: str(n.url),
        health: str(n.state).toUpperCase(),
        inFlight: num(n.active_requests),
        slots: num(n.max_concurrent),
        hot: Array.isArray(n.models_loaded) ? n.models_loaded.map(str) : [],
        breaker: str(n.circuit_breaker_state) || (n.circuit_breaker_open ? 'open' : 'closed'),
        state: n.admin_disabled ? 'disabled' : n.draining ? 'draining' : n.enabled === false ? 'off' : 'on',
        requests: `${num(n.total_requests)}/${num(n.failed_requests)}`,
        total: num(n.total_requests),
      }));
  }
  return undefined;
}

/** The one-shot table, with a line of totals above it. */
export function formatStatus(base: string, rows: NodeRow[]): string {
  const table = renderTable(
    ['ID', 'URL', 'HEALTH', 'IN-FLIGHT', 'HOT MODELS', 'BREAKER', 'STATE', 'REQ/FAILED'],
    rows.map((r) => [r.id, r.url, r.health, `${r.inFlight}/${r.slots}`, r.hot.join(', ') || '-', r.breaker, r.state, r.requests]),
    ['left', 'left', 'left', 'right', 'left', 'left', 'left', 'right'],
  );
  const healthy = rows.filter((r) => r.health === 'HEALTHY').length;
  const inFlight = rows.reduce((s, r) => s + r.inFlight, 0);
  const slots = rows.reduce((s, r) => s + r.slots, 0);
  return `${base}: ${rows.length} node(s), ${healthy} healthy, ${inFlight}/${slots} slots in use\n\n${table}`;
}
