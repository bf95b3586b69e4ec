/**
 * `ollama-ring status --watch`: a running gateway's pool, read again every interval. On a terminal
 * it is the demo's live view (the same node table and queue line, `demo/live-view.ts`) redrawn in
 * place; otherwise the one-shot table again under a timestamp, so a log or a pipe stays readable.
 */
import { palette } from '../demo/colors';
import { queueLine, renderNodeTable } from '../demo/live-view';
import type { NodeView } from '../demo/sampler';
import { formatInt } from '../demo/stats';
import { formatStatus, type NodeRow, readPool, type StatusTarget } from './status-pool';
import { TerminalFrame } from './terminal-frame';
import { type CliIo, EXIT_FAILURE, EXIT_OK } from './types';
import { sleepUnless } from '@ollama-ring/balancer';

export interface WatchOptions {
  intervalMs: number;
  /** Stop after this many refreshes; until interrupted when absent. */
  count?: number;
  color: boolean;
}

/** What one refresh read. */
export interface WatchSnapshot {
  at: Date;
  base: string;
  intervalMs: number;
  /** Absent when the gateway could not be read; `error` says why. */
  rows?: NodeRow[];
  error?: string;
  /** From `/api/stats`, when it answers. */
  strategy?: string;
  inProgress?: number;
  queue?: { depth: number; byModel: [string, number][] };
  /** Per node, from `/metrics`' `tokens_generated_total` between two refreshes (0 on the first). */
  tokensPerSec: ReadonlyMap<string, number>;
}

/** Runs the watch until `count` refreshes or a signal; exit 0 if the gateway answered at least once. */
export async function watchStatus(t: StatusTarget, o: WatchOptions, io: CliIo): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const frame = io.isTTY ? new TerminalFrame(io, { color: o.color, columns: io.columns }) : undefined;
  const tokens = new TokenRates();
  let reached = false;
  try {
    for (let n = 1; !stop.signal.aborted; n++) {
      const s = await sample(t, o.intervalMs, tokens);
      if (s.rows) reached = true;
      if (frame) frame.draw(renderWatch(s, o.color));
      else io.out(renderWatchPlain(s));
      if (o.count !== undefined && n >= o.count) break;
      await sleepUnless(o.intervalMs, stop.signal);
    }
  } finally {
    frame?.end();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return reached ? EXIT_OK : EXIT_FAILURE;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the pool, `/api/stats` (queue, strategy) and `/metrics` (tokens) side by side. */
async function sample(t: StatusTarget, intervalMs: number, tokens: TokenRates): Promise<WatchSnapshot> {
  const get = (path: string): Promise<Response | undefined> => fetch(`${t.base}${path}`, { headers: t.headers, signal: AbortSignal.timeout(t.timeoutMs) }).catch(() => undefined);
  const [pool, statsRes, metricsRes] = await Promise.all([readPool(t), get('/api/stats'), get('/metrics')]);
  const at = new Date();
  const stats = parseJson(await textOf(statsRes));
  const s: WatchSnapshot = { at, base: t.base, intervalMs, tokensPerSec: tokens.update(at.getTime(), tokenTotals((await textOf(metricsRes)) ?? '')) };
  if ('error' in pool) s.error = pool.error;
  else s.rows = pool.rows;
  if (isObj(stats)) {
    if (typeof stats.strategy === 'string') s.strategy = stats.strategy;
    if (typeof stats.requests_in_progress === 'number') s.inProgress = stats.requests_in_progress;
    const q = stats.queue;
    if (isObj(q) && typeof q.depth === 'number' && isObj(q.by_model)) {
      const byModel = Object.entries(q.by_model)
        .filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0)
        .sort((a, b) => b[1] - a[1]);
      s.queue = { depth: q.depth, byModel };
    }
  }
  return s;
}

/** A 2xx answer's text; undefined for none, or another status (its body discarded). */
async function textOf(res: Response | undefined): Promise<string | undefined> {
  if (!res) return undefined;
  if (!res.ok) return void (await res.body?.cancel());
  return res.text().catch(() => undefined);
}

function parseJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Tokens generated per node so far, from the Prometheus text: every `…tokens_generated_total`
 * sample (whatever the gateway's metric prefix), summed over models.
 */
export function tokenTotals(metricsText: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of metricsText.matchAll(/^[a-zA-Z_:][a-zA-Z0-9_:]*tokens_generated_total\{([^}]*)\} (\S+)/gm)) {
    const node = /(?:^|,)node="([^"]*)"/.exec(m[1])?.[1];
    const v = Number(m[2]);
    if (node !== undefined && Number.isFinite(v)) out.set(node, (out.get(node) ?? 0) + v);
  }
  return out;
}

/** Rates between consecutive totals; a node's first reading (or a counter reset) is 0. */
class TokenRates {
  private last: { at: number; totals: Map<string, number> } | undefined;

  update(at: number, totals: Map<string, number>): Map<string, number> {
    const rates = new Map<string, number>();
    const prev = this.last;
    for (const [node, total] of totals) {
      const before = prev?.totals.get(node);
      const secs = prev ? (at - prev.at) / 1000 : 0;
      rates.set(node, before !== undefined && secs > 0 && total >= before ? (total - before) / secs : 0);
    }
    this.last = { at, totals };
    return rates;
  }
}

/** The demo's node view of a status row. */
function nodeView(r: NodeRow, tokensPerSec: number): NodeView {
  return {
    id: r.id,
    health: r.health,
    breaker: r.breaker,
    state: r.state,
    inFlight: r.inFlight,
    slots: r.slots,
    hot: r.hot.map((model) => ({ model: model.replace(/:latest$/, ''), loading: false })),
    tokensPerSec,
    served: r.total,
  };
}

/** The live frame, as lines without newlines. */
export function renderWatch(s: WatchSnapshot, color: boolean): string[] {
  const p = palette(color);
  const clock = s.at.toTimeString().slice(0, 8);
  const head = `${p.bold('ollama-ring status')}  ${clock}  gateway ${p.cyan(s.base)}${s.strategy ? `  strategy ${s.strategy}` : ''}  ${p.dim(`every ${s.intervalMs / 1000} s, Ctrl-C stops`)}`;
  if (!s.rows) return [head, '', p.red(s.error ?? 'no answer')];
  const nodes = s.rows.map((r) => nodeView(r, s.tokensPerSec.get(r.id) ?? 0));
  // As the gateway's canServe judges: in rotation, not unhealthy, breaker not open.
  const serving = s.rows.filter((r) => r.state === 'on' && r.health !== 'UNHEALTHY' && r.breaker !== 'open').length;
  const tokens = nodes.reduce((sum, n) => sum + n.tokensPerSec, 0);
  return [
    head,
    '',
    ...renderNodeTable(nodes, p),
    '',
    s.queue ? queueLine(s.queue, p) : p.dim('waiting in the balancer: unknown (/api/stats did not answer)'),
    `${serving}/${s.rows.length} nodes serving · ${s.inProgress ?? '?'} requests in progress · ${formatInt(tokens)} tok/s`,
  ];
}

/** The plain form: a timestamp, the one-shot table and the queue, then a blank line. */
export function renderWatchPlain(s: WatchSnapshot): string {
  const head = `--- ${s.at.toISOString()}`;
  if (!s.rows) return `${head}\nollama-ring status: ${s.error ?? 'no answer'}\n\n`;
  const queue = s.queue ? queueLine(s.queue, palette(false)) : 'waiting in the balancer: unknown';
  return `${head}\n${formatStatus(s.base, s.rows)}${queue}\n\n`;
}
