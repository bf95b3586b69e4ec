/** The Markdown tables the bench prints (and writes with --md). */
import { markdownTable } from '../common/table';
import type { CpuShare } from './measure';
import type { Goal, TargetRow } from './report';
import { REFERENCE_NAMES } from './targets';

const label = (r: TargetRow): string => ((REFERENCE_NAMES as readonly string[]).includes(r.name) ? `${r.name} (reference)` : r.name);

const ms = (v: number | null): string => (v === null || Number.isNaN(v) ? '–' : `${v.toFixed(2)} ms`);
const signed = (v: number | null): string => (v === null || Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(2)} ms`);
const pct = (v?: number): string => (v === undefined ? '?' : v.toFixed(0));
/** Percent of one core; "other" is processes outside the bench on the shared machine, "irq" the kernel's network work. */
const CPU_HEADER = 'CPU % proxy / sim / load / irq / other';
const cpu = (c?: CpuShare): string =>
  `${pct(c?.proxyPct)} / ${pct(c?.simPct)} / ${pct(c?.loadPct)} / ${pct(c?.irqPct)} / ${pct(c?.otherPct)}`;

export function requestsTable(rows: readonly TargetRow[], connections: number): string {
  const direct = rows.find((r) => r.name === 'direct')?.rps ?? null;
  const nginx = rows.find((r) => r.name === 'nginx')?.rps ?? null;
  const ratio = (v: number | null, of: number | null): string => (v === null || !of ? '–' : `${(v / of).toFixed(2)}×`);
  const body = rows.map((r) =>
    r.skipped
      ? [label(r), `skipped: ${r.skipped}`, '', '', '', '', '', '', '']
      : [
          label(r),
          (r.rps as number).toFixed(0),
          ratio(r.rps, direct),
          ratio(r.rps, nginx),
          ms(r.p50Ms),
          ms(r.p99Ms),
          r.proxyCpuUsPerRequest === null ? '–' : `${r.proxyCpuUsPerRequest.toFixed(0)} µs`,
          cpu(r.cpu?.requests),
          String(r.errors),
        ],
  );
  return `Non-streaming /api/generate, ${connections} connections, closed loop\n\n${markdownTable(
    ['target', 'req/s', '× direct', '× nginx', 'p50', 'p99', 'proxy CPU/req', CPU_HEADER, 'errors'],
    body,
  )}`;
}

export function streamsTable(rows: readonly TargetRow[], streams: number, tokensPerSec: number): string {
  const body = rows.map((r) =>
    r.skipped
      ? [label(r), `skipped: ${r.skipped}`, '', '', '', '', '', '', '', '', '']
      : [
          label(r),
          ms(r.ttftP50Ms),
          ms(r.ttftP99Ms),
          signed(r.ttftAddedP50Ms),
          signed(r.ttftAddedP99Ms),
          ms(r.gapP50Ms),
          ms(r.gapP99Ms),
          signed(r.gapAddedP50Ms),
          signed(r.gapAddedP99Ms),
          `${ms(r.proxyLoopDelayP99Ms)} / ${ms(r.simLoopDelayP99Ms)}`,
          cpu(r.cpu?.streams),
        ],
  );
  return `${streams} concurrent NDJSON streams, ${tokensPerSec} tokens/s each; "added" = this target minus direct, same run\n\n${markdownTable(
    ['target', 'TTFT p50', 'TTFT p99', 'added p50', 'added p99', 'gap p50', 'gap p99', 'added gap p50', 'added gap p99', 'loop delay p99 proxy / sim', CPU_HEADER],
    body,
  )}`;
}

export function goalsTable(goals: readonly Goal[]): string {
  return markdownTable(
    ['goal', 'target', 'measured', ''],
    goals.map((g) => [g.what, g.target, g.measured, g.met === null ? 'not measured' : g.met ? 'met' : 'missed']),
  );
}
