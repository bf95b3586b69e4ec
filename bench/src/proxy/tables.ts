/** The Markdown tables the bench prints (and writes with --md). */
import { markdownTable } from '../common/table';
import type { CpuShare } from './measure';
import type { Goal, Ratios, TargetRow } from './report';
import { REFERENCE_NAMES, type TargetName } from './targets';

/** What a target is called in the tables, where its name alone does not say (the previous build's commit). */
export type Labels = Partial<Record<TargetName, string>>;

const label = (r: TargetRow, labels: Labels): string => {
  const extra = labels[r.name];
  const ref = (REFERENCE_NAMES as readonly string[]).includes(r.name);
  return extra || ref ? `${r.name} (${[ref ? 'reference' : '', extra ?? ''].filter(Boolean).join(', ')})` : r.name;
};

const ms = (v: number | null): string => (v === null || Number.isNaN(v) ? '–' : `${v.toFixed(2)} ms`);
const signed = (v: number | null): string => (v === null || Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(2)} ms`);
const pct = (v?: number): string => (v === undefined ? '?' : v.toFixed(0));
/** Percent of one core; "other" is processes outside the bench on the shared machine, "irq" the kernel's network work. */
const CPU_HEADER = 'CPU % proxy / sim / load / irq / other';
const cpu = (c?: CpuShare): string => `${pct(c?.proxyPct)} / ${pct(c?.simPct)} / ${pct(c?.loadPct)} / ${pct(c?.irqPct)} / ${pct(c?.otherPct)}`;

export function requestsTable(rows: readonly TargetRow[], connections: number, labels: Labels = {}): string {
  const direct = rows.find((r) => r.name === 'direct')?.rps ?? null;
  const nginx = rows.find((r) => r.name === 'nginx')?.rps ?? null;
  const ratio = (v: number | null, of: number | null): string => (v === null || !of ? '–' : `${(v / of).toFixed(2)}×`);
  const body = rows.map((r) =>
    r.skipped
      ? [label(r, labels), `skipped: ${r.skipped}`, '', '', '', '', '', '', '']
      : [
          label(r, labels),
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

export function streamsTable(rows: readonly TargetRow[], streams: number, tokensPerSec: number, labels: Labels = {}): string {
  const body = rows.map((r) =>
    r.skipped
      ? [label(r, labels), `skipped: ${r.skipped}`, '', '', '', '', '', '', '', '', '']
      : [
          label(r, labels),
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

const us = (v: number | null, digits = 0): string => (v === null || Number.isNaN(v) ? '–' : `${v.toFixed(digits)} µs`);
const times = (v: number | null): string => (v === null || Number.isNaN(v) ? '–' : `${v.toFixed(2)}×`);

/**
 * The figures each change is judged on, one line per target: CPU per non-streaming request, CPU
 * per streamed line, req/s, and the TTFT added under streams.
 */
export function summaryTable(rows: readonly TargetRow[], connections: number, streams: number, labels: Labels = {}): string {
  const body = rows.map((r) =>
    r.skipped
      ? [label(r, labels), `skipped: ${r.skipped}`, '', '', '', '']
      : [label(r, labels), us(r.proxyCpuUsPerRequest), us(r.proxyCpuUsPerLine, 1), r.rps === null ? '–' : r.rps.toFixed(0), signed(r.ttftAddedP50Ms), signed(r.ttftAddedP99Ms)],
  );
  return `Summary: proxy CPU per non-streaming request and per streamed line, req/s at ${connections} connections, TTFT added at ${streams} streams

${markdownTable(['target', 'CPU/req', 'CPU/line', 'req/s', 'added TTFT p50', 'added TTFT p99'], body)}`;
}

/**
 * Every target against the Node passthrough and against the previous build, same run: below 1×
 * is less CPU or less added TTFT, above 1× more req/s. "–" where the reference was skipped or
 * its figure is zero or negative (no ratio to a gain).
 */
export function ratiosTable(rows: readonly TargetRow[], labels: Labels = {}): string {
  const line = (r: TargetRow, against: string, x: Ratios | null | undefined): string[] => [
    label(r, labels),
    against,
    times(x?.cpuPerRequest ?? null),
    times(x?.cpuPerLine ?? null),
    times(x?.rps ?? null),
    times(x?.ttftAddedP50 ?? null),
    times(x?.ttftAddedP99 ?? null),
  ];
  const body = rows
    .filter((r) => !r.skipped && r.name !== 'direct')
    .flatMap((r) => [
      ...(r.name === 'node-passthrough' ? [] : [line(r, '÷ node-passthrough', r.ratios?.vsPassthrough)]),
      ...(r.name === 'ollama-ring-previous' ? [] : [line(r, '÷ previous build', r.ratios?.vsPrevious)]),
    ]);
  return `Ratios, same run: each target's figure ÷ the reference's

${markdownTable(['target', 'against', 'CPU/req', 'CPU/line', 'req/s', 'added TTFT p50', 'added TTFT p99'], body)}`;
}

export function goalsTable(goals: readonly Goal[]): string {
  return markdownTable(
    ['goal', 'target', 'measured', ''],
    goals.map((g) => [g.what, g.target, g.measured, g.met === null ? 'not measured' : g.met ? 'met' : 'missed']),
  );
}
