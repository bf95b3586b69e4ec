/** The table printed when the demo ends. */
import { renderTable } from '../commands/table';
import { palette } from './colors';
import { formatInt, formatMs, percent, quantile } from './stats';
import type { RequestResult } from './workload';

export interface SummaryInput {
  results: readonly RequestResult[];
  elapsedMs: number;
  strategy: string;
  /** Node ids in pool order. */
  nodes: string[];
  /** Model loads each node performed during the run (cold starts, reloads for another num_ctx). */
  loads: Map<string, number>;
  color: boolean;
}

export interface SummaryNumbers {
  ok: number;
  failed: number;
  cutOff: number;
  coldLoads: number;
}

export function summarize(results: readonly RequestResult[], loads: Map<string, number>): SummaryNumbers {
  return {
    ok: results.filter((r) => r.ok).length,
    failed: results.filter((r) => !r.ok && !r.cutOff).length,
    cutOff: results.filter((r) => r.cutOff).length,
    coldLoads: [...loads.values()].reduce((a, b) => a + b, 0),
  };
}

export function renderSummary(s: SummaryInput): string {
  const p = palette(s.color);
  const n = summarize(s.results, s.loads);
  const ok = s.results.filter((r) => r.ok);
  const ttft = ok.flatMap((r) => (r.ttftMs !== undefined ? [r.ttftMs] : []));
  const latency = ok.map((r) => r.latencyMs);
  const queued = ok.flatMap((r) => (r.queueMs !== undefined ? [r.queueMs] : []));
  const tokens = ok.reduce((a, r) => a + r.tokens, 0);
  const secs = s.elapsedMs / 1000;
  const total = n.ok + n.failed;

  const overview = renderTable(
    ['', 'p50', 'p99', ''],
    [
      ['TTFT', formatMs(quantile(ttft, 0.5)), formatMs(quantile(ttft, 0.99)), p.dim(`time to first token, ${ttft.length} streamed requests`)],
      ['latency', formatMs(quantile(latency, 0.5)), formatMs(quantile(latency, 0.99)), p.dim('whole request, as the client saw it')],
      ['queue wait', formatMs(quantile(queued, 0.5)), formatMs(quantile(queued, 0.99)), p.dim('held by the balancer for a free slot')],
    ],
    ['left', 'right', 'right', 'left'],
  );

  const served = new Map<string, number>();
  const nodeTokens = new Map<string, number>();
  for (const r of ok) {
    const id = r.node ?? '?';
    served.set(id, (served.get(id) ?? 0) + 1);
    nodeTokens.set(id, (nodeTokens.get(id) ?? 0) + r.tokens);
  }
  const perNode = renderTable(
    ['NODE', 'REQUESTS', 'SHARE', 'TOKENS', 'MODEL LOADS'],
    s.nodes.map((id) => [id, formatInt(served.get(id) ?? 0), percent(served.get(id) ?? 0, n.ok), formatInt(nodeTokens.get(id) ?? 0), formatInt(s.loads.get(id) ?? 0)]),
    ['left', 'right', 'right', 'right', 'right'],
  );

  // num_ctx variants are their own rows: in Ollama they are a different runner (a reload).
  const label = (r: RequestResult): string => r.spec.model + (r.spec.numCtx ? ` (num_ctx ${r.spec.numCtx})` : '');
  const byModel = new Map<string, RequestResult[]>();
  for (const r of s.results) {
    const list = byModel.get(label(r));
    if (list) list.push(r);
    else byModel.set(label(r), [r]);
  }
  const perModel = renderTable(
    ['MODEL', 'OK', 'FAILED', 'p50 LATENCY', 'p99 LATENCY'],
    [...byModel]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([m, rs]) => {
        const good = rs.filter((r) => r.ok).map((r) => r.latencyMs);
        return [m, formatInt(good.length), formatInt(rs.filter((r) => !r.ok && !r.cutOff).length), formatMs(quantile(good, 0.5)), formatMs(quantile(good, 0.99))];
      }),
    ['left', 'right', 'right', 'right', 'right'],
  );

  const errors = new Map<string, number>();
  for (const r of s.results) if (!r.ok && !r.cutOff) errors.set(r.error ?? 'unknown', (errors.get(r.error ?? 'unknown') ?? 0) + 1);
  const errorLines = [...errors]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([e, c]) => `  ${c} × ${e}`);

  const failed = n.failed > 0 ? p.red(`${n.failed} failed`) : '0 failed';
  return [
    '',
    p.bold(`Summary: ${secs.toFixed(1)} s, ${s.nodes.length} nodes, strategy ${s.strategy}`),
    `requests    ${p.green(`${formatInt(n.ok)} ok`)}, ${failed} (${percent(n.failed, total)})${n.cutOff ? p.dim(`, ${n.cutOff} cut off at the end`) : ''}  ~${(n.ok / Math.max(secs, 0.001)).toFixed(1)} req/s`,
    `cold loads  ${formatInt(n.coldLoads)} ${p.dim('(model loads on the nodes, reloads for another num_ctx included)')}`,
    `tokens      ${formatInt(tokens)} generated`,
    '',
    overview.trimEnd(),
    '',
    perNode.trimEnd(),
    '',
    perModel.trimEnd(),
    ...(errorLines.length ? ['', p.red('errors:'), ...errorLines] : []),
    '',
  ].join('\n');
}
