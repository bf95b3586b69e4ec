/** `ollama-ring status`: a running gateway's pool, as a table. */
import { COMMON_OPTIONS, parseCommandArgs, positiveFlag } from './args';
import { renderTable } from './table';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError } from './types';
import { packageVersion } from './version';

const USAGE = `Usage: ollama-ring status [--url URL] [--token T] [--json]

Prints the pool of a running gateway: each node's id, url, health, in-flight/slots, hot models,
circuit breaker and state. Reads GET /admin/nodes (admin token, or loopback when none is set), and
falls back to GET /api/stats when the admin API refuses.

Options:
      --url URL      the gateway (default http://127.0.0.1:8080)
      --token T      admin token (default: $OLLAMA_RING_ADMIN_TOKEN)
      --timeout S    seconds to wait for the answer (default 5)
      --json         print the raw answer
  -h, --help         show this help
  -V, --version      print the version
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  url: { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

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
  requests: string;
}

export const statusCommand: Command = {
  name: 'status',
  summary: "print a running gateway's pool as a table",
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, OPTIONS, 0);
    if (values.help) return (io.out(USAGE), EXIT_OK);
    if (values.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
    const base = (values.url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(base) || !URL.canParse(base)) throw new UsageError(`--url must be an http(s) URL, got '${base}'`);
    const timeoutMs = (positiveFlag(values.timeout, '--timeout') ?? 5) * 1000;
    const token = values.token ?? io.env.OLLAMA_RING_ADMIN_TOKEN;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    let body: unknown;
    let source: string;
    try {
      let res = await fetch(`${base}/admin/nodes`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      source = '/admin/nodes';
      if ([401, 403, 404].includes(res.status)) {
        await res.body?.cancel();
        res = await fetch(`${base}/api/stats`, { headers, signal: AbortSignal.timeout(timeoutMs) });
        source = '/api/stats';
      }
      if (!res.ok) {
        io.err(`ollama-ring status: ${base}${source} answered ${res.status}: ${(await res.text()).slice(0, 300)}\n`);
        return EXIT_FAILURE;
      }
      body = await res.json();
    } catch (e) {
      io.err(`ollama-ring status: cannot reach the gateway at ${base}: ${reason(e)}\n(is \`ollama-ring serve\` running there? --url sets the address)\n`);
      return EXIT_FAILURE;
    }
    if (values.json) return (io.out(JSON.stringify(body, null, 2) + '\n'), EXIT_OK);
    const rows = nodeRows(body, Date.now());
    if (!rows) {
      io.err(`ollama-ring status: ${base}${source} did not answer with a node list\n`);
      return EXIT_FAILURE;
    }
    io.out(formatStatus(base, rows));
    return EXIT_OK;
  },
};

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
      }));
  }
  return undefined;
}

function formatStatus(base: string, rows: NodeRow[]): string {
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
