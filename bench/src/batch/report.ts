/**
 * `bench:batch`'s report: each scenario's rounds and their medians as Markdown tables, the targets
 * met or missed (on the medians), and the Markdown file for `--md`.
 */
import { median } from '../common/stats';
import { markdownTable } from '../common/table';
import type { EmbedRun } from './embed';
import { type FairnessRound, WAIT_FLOOR_MS } from './fairness';
import type { MixedRound } from './mixed';

export interface EmbedRound {
  off: EmbedRun;
  on: EmbedRun;
  /** req/s on ÷ off (target ≥ 3). */
  throughputRatio: number;
  otherPct?: number;
  attempts?: number;
}

export interface Target {
  scenario: 'batch' | 'embed' | 'fairness';
  name: string;
  goal: string;
  /** The median over the rounds. */
  measured: number;
  met: boolean;
}

const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–');
const pct = (u: number): string => (Number.isFinite(u) ? `${(u * 100).toFixed(1)} %` : '–');
const x = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–');
const other = (o?: number, attempts?: number): string => `${o === undefined ? '?' : o.toFixed(0)} %${attempts && attempts > 1 ? ` (${attempts} tries)` : ''}`;

/** The median of one figure over the rounds. */
export function med<R>(rounds: readonly R[], pick: (r: R) => number): number {
  return median(rounds.map(pick).filter(Number.isFinite));
}

export function mixedTable(rounds: readonly MixedRound[]): string {
  const rows = rounds.map((r, i) => [
    `${i + 1}`,
    f(r.interactiveAlone.ttftP99Ms),
    f(r.mixed.ttftP99Ms),
    x(r.ttftP99Ratio),
    pct(r.interactiveAlone.utilization),
    pct(r.mixed.utilization),
    f(r.batchAlone.durationMs / 1000, 1),
    f(r.mixed.durationMs / 1000, 1),
    x(r.batchStretch),
    x(r.batchStretchOnSpare),
    `${r.batchAlone.failed + r.mixed.failed} / ${r.interactiveAlone.errors + r.mixed.interactiveErrors}`,
    other(r.otherPct, r.attempts),
  ]);
  rows.push([
    'median',
    f(med(rounds, (r) => r.interactiveAlone.ttftP99Ms)),
    f(med(rounds, (r) => r.mixed.ttftP99Ms)),
    x(med(rounds, (r) => r.ttftP99Ratio)),
    pct(med(rounds, (r) => r.interactiveAlone.utilization)),
    pct(med(rounds, (r) => r.mixed.utilization)),
    f(med(rounds, (r) => r.batchAlone.durationMs) / 1000, 1),
    f(med(rounds, (r) => r.mixed.durationMs) / 1000, 1),
    x(med(rounds, (r) => r.batchStretch)),
    x(med(rounds, (r) => r.batchStretchOnSpare)),
    '',
    '',
  ]);
  return markdownTable(
    [
      'round',
      'interactive TTFT p99 alone, ms',
      'with the batch, ms',
      'ratio',
      'pool busy, interactive alone',
      'pool busy while the batch ran',
      'batch alone, s',
      'batch beside interactive, s',
      'stretch',
      'stretch on the spare capacity',
      'failed lines / interactive',
      'other processes',
    ],
    rows,
  );
}

export function embedTable(rounds: readonly EmbedRound[]): string {
  const rows = rounds.map((r, i) => [
    `${i + 1}`,
    f(r.off.reqPerSec),
    f(r.on.reqPerSec),
    x(r.throughputRatio),
    `${f(r.off.p99Ms, 1)} / ${f(r.on.p99Ms, 1)}`,
    `${r.off.upstreamCalls} / ${r.on.upstreamCalls}`,
    `${r.off.errors} / ${r.on.errors}`,
    other(r.otherPct, r.attempts),
  ]);
  rows.push(['median', f(med(rounds, (r) => r.off.reqPerSec)), f(med(rounds, (r) => r.on.reqPerSec)), x(med(rounds, (r) => r.throughputRatio)), '', '', '', '']);
  return markdownTable(['round', 'req/s, autobatch off', 'on', 'ratio', 'p99 ms off / on', 'upstream calls off / on', 'errors off / on', 'other processes'], rows);
}

export function fairnessTable(rounds: readonly FairnessRound[]): string {
  const rows = rounds.map((r, i) => [
    `${i + 1}`,
    `${f(r.lightAlone.queueP50Ms)} / ${f(r.lightAlone.queueP99Ms)}`,
    `${f(r.light.queueP50Ms)} / ${f(r.light.queueP99Ms)}`,
    x(r.lightP99Ratio),
    `${r.lightAlone.served} / ${r.light.served} (${r.light.failed} failed)`,
    `${r.heavy.served} of ${r.heavy.requests} (p50 wait ${f(r.heavy.queueP50Ms)} ms)`,
    other(r.otherPct, r.attempts),
  ]);
  rows.push([
    'median',
    `${f(med(rounds, (r) => r.lightAlone.queueP50Ms))} / ${f(med(rounds, (r) => r.lightAlone.queueP99Ms))}`,
    `${f(med(rounds, (r) => r.light.queueP50Ms))} / ${f(med(rounds, (r) => r.light.queueP99Ms))}`,
    x(med(rounds, (r) => r.lightP99Ratio)),
    '',
    '',
    '',
  ]);
  return markdownTable(
    ['round', 'light key alone: queue p50 / p99 ms', 'beside the heavy key', 'p99 ratio', 'light served alone / beside', 'heavy served', 'other processes'],
    rows,
  );
}

/** The issue's targets, judged on the medians of the rounds run. */
export function targets(mixed: readonly MixedRound[], embed: readonly EmbedRound[], fair: readonly FairnessRound[]): Target[] {
  const t: Target[] = [];
  const add = (scenario: Target['scenario'], name: string, goal: string, measured: number, ok: (m: number) => boolean): void =>
    void t.push({ scenario, name, goal, measured, met: Number.isFinite(measured) && ok(measured) });
  if (mixed.length > 0) {
    add(
      'batch',
      'interactive TTFT p99, with the batch ÷ without',
      '≤ 1.15×',
      med(mixed, (r) => r.ttftP99Ratio),
      (m) => m <= 1.15,
    );
    add(
      'batch',
      'pool utilization while the batch runs',
      '≥ 90 %',
      med(mixed, (r) => r.mixed.utilization),
      (m) => m >= 0.9,
    );
    add(
      'batch',
      'batch duration beside interactive ÷ on an idle pool',
      '≤ 1.2×',
      med(mixed, (r) => r.batchStretch),
      (m) => m <= 1.2,
    );
    add(
      'batch',
      'the same, ÷ what the capacity interactive leaves needs',
      '≤ 1.2×',
      med(mixed, (r) => r.batchStretchOnSpare),
      (m) => m <= 1.2,
    );
  }
  if (embed.length > 0)
    add(
      'embed',
      'embedding throughput, autobatch on ÷ off',
      '≥ 3×',
      med(embed, (r) => r.throughputRatio),
      (m) => m >= 3,
    );
  if (fair.length > 0) {
    add(
      'fairness',
      `light key's p99 queue wait beside a 10× key ÷ alone (alone floored at ${WAIT_FLOOR_MS} ms)`,
      '≤ 1.5×',
      med(fair, (r) => r.lightP99Ratio),
      (m) => m <= 1.5,
    );
  }
  return t;
}

export function targetsTable(t: readonly Target[]): string {
  return markdownTable(
    ['scenario', 'target', 'goal', 'measured (median)', ''],
    t.map((x1) => [x1.scenario, x1.name, x1.goal, x1.name.includes('utilization') ? pct(x1.measured) : x(x1.measured), x1.met ? 'met' : '**missed**']),
  );
}

export interface ReportHeader {
  date: string;
  revision: string;
  machine: string;
  command: string;
  quick: boolean;
}

/** The `--md` file: where and how it was measured, each scenario's table, the targets. */
export function markdownReport(h: ReportHeader, sections: readonly { title: string; about: string; table: string }[], t: readonly Target[]): string {
  const out = [
    `# bench:batch, ${h.date}${h.quick ? ' (--quick: proves the harness, not a result)' : ''}`,
    '',
    `- machine: ${h.machine}`,
    `- revision: ${h.revision}`,
    `- command: \`${h.command}\``,
    '- times are unscaled (what a real pool would take); each figure of a round is measured in that round, medians over the rounds',
    '',
  ];
  for (const s of sections) out.push(`## ${s.title}`, '', s.about, '', s.table, '');
  out.push('## Targets', '', targetsTable(t), '');
  return out.join('\n');
}
