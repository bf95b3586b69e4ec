/** Turns measurements into the JSON rows, the Markdown tables and the verdict on the targets. */
import { median } from '../common/stats';
import type { CpuShare, Measured } from './measure';
import type { RequestsResult, StreamsResult } from './protocol';
import type { TargetName } from './targets';

/** One target's line of the JSON output. Numbers are null when the target was skipped. */
export interface TargetRow {
  name: TargetName;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** TTFT p99 through this target minus TTFT p99 direct, same run (0 for direct itself). */
  ttftAddedP99Ms: number | null;
  ttftAddedP50Ms: number | null;
  ttftP50Ms: number | null;
  ttftP99Ms: number | null;
  gapP50Ms: number | null;
  gapP99Ms: number | null;
  gapAddedP50Ms: number | null;
  gapAddedP99Ms: number | null;
  streams: number | null;
  errors: number | null;
  firstError?: string;
  /** CPU time of the proxy's own processes per non-streaming request (µs). */
  proxyCpuUsPerRequest: number | null;
  /** CPU time of the proxy's own processes per NDJSON token line streamed (µs), at `streams` streams. */
  proxyCpuUsPerLine: number | null;
  /** This row's figures ÷ the same figures of the references, same run (see compareRows). */
  ratios?: { vsPassthrough: Ratios | null; vsPrevious: Ratios | null };
  /** p99 event-loop delay during the streaming window: ollama-ring's process, and the sim's. */
  proxyLoopDelayP99Ms: number | null;
  simLoopDelayP99Ms: number | null;
  cpu?: { requests: CpuShare; streams: CpuShare };
  /** Runs it took to get one that others did not disturb (see measureQuietly). */
  attempts?: { requests: number; streams: number };
  /** Rounds measured; the figures above are the medians over them. */
  rounds?: number;
  /** req/s of each round, to show the spread. */
  rpsByRound?: number[];
  ttftAddedP99MsByRound?: number[];
  skipped?: string;
  skipReason?: string;
}

export interface Measurement {
  name: TargetName;
  requests: Measured<RequestsResult>;
  streams: Measured<StreamsResult>;
}

const round = (v: number, digits = 3): number => Number(v.toFixed(digits));

export function skippedRow(name: TargetName, skipped: string, reason: string): TargetRow {
  return {
    name,
    rps: null,
    p50Ms: null,
    p99Ms: null,
    ttftAddedP99Ms: null,
    ttftAddedP50Ms: null,
    ttftP50Ms: null,
    ttftP99Ms: null,
    gapP50Ms: null,
    gapP99Ms: null,
    gapAddedP50Ms: null,
    gapAddedP99Ms: null,
    streams: null,
    errors: null,
    proxyCpuUsPerRequest: null,
    proxyCpuUsPerLine: null,
    proxyLoopDelayP99Ms: null,
    simLoopDelayP99Ms: null,
    skipped,
    skipReason: reason,
  };
}

/**
 * A measured row; `direct` is the same run's direct measurement that "added" is relative to, and
 * `measureMs` the length of the measured window the CPU was sampled over.
 */
export function measuredRow(m: Measurement, direct: Measurement, measureMs: number): TargetRow {
  const r = m.requests.result;
  const s = m.streams.result;
  const d = direct.streams.result;
  const errors = r.errors + s.errors;
  const proxyPct = m.requests.cpu.proxyPct;
  const streamPct = m.streams.cpu.proxyPct;
  const windowLines = s.windowLines ?? 0;
  return {
    name: m.name,
    rps: round(r.rps, 1),
    p50Ms: round(r.latency.p50Ms),
    p99Ms: round(r.latency.p99Ms),
    ttftAddedP99Ms: round(s.ttft.p99Ms - d.ttft.p99Ms),
    ttftAddedP50Ms: round(s.ttft.p50Ms - d.ttft.p50Ms),
    ttftP50Ms: round(s.ttft.p50Ms),
    ttftP99Ms: round(s.ttft.p99Ms),
    gapP50Ms: round(s.gap.p50Ms),
    gapP99Ms: round(s.gap.p99Ms),
    gapAddedP50Ms: round(s.gap.p50Ms - d.gap.p50Ms),
    gapAddedP99Ms: round(s.gap.p99Ms - d.gap.p99Ms),
    streams: s.streams,
    errors,
    firstError: r.firstError ?? s.firstError,
    // CPU% of one core × window ÷ requests in the window = CPU time per request.
    proxyCpuUsPerRequest: proxyPct === undefined || r.completed === 0 ? null : round((proxyPct / 100 / r.rps) * 1e6, 1),
    // The same over the streaming window: CPU time in it ÷ token lines received in it.
    proxyCpuUsPerLine: streamPct === undefined || windowLines === 0 ? null : round(((streamPct / 100) * measureMs * 1000) / windowLines, 2),
    proxyLoopDelayP99Ms: m.streams.proxyLoop ? round(m.streams.proxyLoop.p99Ms) : null,
    simLoopDelayP99Ms: m.streams.simLoop ? round(m.streams.simLoop.p99Ms) : null,
    cpu: { requests: roundShare(m.requests.cpu), streams: roundShare(m.streams.cpu) },
    attempts: { requests: m.requests.attempts ?? 1, streams: m.streams.attempts ?? 1 },
  };
}

/** Figures that are combined over rounds by their median. */
const MEDIAN_KEYS = [
  'rps',
  'p50Ms',
  'p99Ms',
  'ttftAddedP99Ms',
  'ttftAddedP50Ms',
  'ttftP50Ms',
  'ttftP99Ms',
  'gapP50Ms',
  'gapP99Ms',
  'gapAddedP50Ms',
  'gapAddedP99Ms',
  'proxyCpuUsPerRequest',
  'proxyCpuUsPerLine',
  'proxyLoopDelayP99Ms',
  'simLoopDelayP99Ms',
] as const;

const medianOf = (xs: (number | null | undefined)[]): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number' && !Number.isNaN(x));
  return v.length === 0 ? null : round(median(v));
};

/**
 * One target's rounds as one row: the median of each figure. Other engineers' jobs share these
 * cores; a round they disturb moves a mean, much less a median.
 */
export function combineRounds(rounds: readonly TargetRow[]): TargetRow {
  const skipped = rounds.find((r) => r.skipped);
  if (skipped) return skipped;
  const out: TargetRow = { ...rounds[0] };
  for (const k of MEDIAN_KEYS) out[k] = medianOf(rounds.map((r) => r[k]));
  out.streams = rounds.reduce((a, r) => a + (r.streams ?? 0), 0);
  out.errors = rounds.reduce((a, r) => a + (r.errors ?? 0), 0);
  out.firstError = rounds.find((r) => r.firstError)?.firstError;
  const shares = (pick: (r: TargetRow) => CpuShare | undefined): CpuShare => ({
    proxyPct: medianOf(rounds.map((r) => pick(r)?.proxyPct)) ?? undefined,
    simPct: medianOf(rounds.map((r) => pick(r)?.simPct)) ?? undefined,
    loadPct: medianOf(rounds.map((r) => pick(r)?.loadPct)) ?? undefined,
    otherPct: medianOf(rounds.map((r) => pick(r)?.otherPct)) ?? undefined,
    irqPct: medianOf(rounds.map((r) => pick(r)?.irqPct)) ?? undefined,
  });
  out.cpu = { requests: shares((r) => r.cpu?.requests), streams: shares((r) => r.cpu?.streams) };
  out.attempts = {
    requests: rounds.reduce((a, r) => a + (r.attempts?.requests ?? 1), 0),
    streams: rounds.reduce((a, r) => a + (r.attempts?.streams ?? 1), 0),
  };
  out.rounds = rounds.length;
  out.rpsByRound = rounds.map((r) => r.rps as number);
  out.ttftAddedP99MsByRound = rounds.map((r) => r.ttftAddedP99Ms as number);
  return out;
}

function roundShare(c: CpuShare): CpuShare {
  const f = (v?: number): number | undefined => (v === undefined ? undefined : round(v, 1));
  return { proxyPct: f(c.proxyPct), simPct: f(c.simPct), loadPct: f(c.loadPct), otherPct: f(c.otherPct), irqPct: f(c.irqPct) };
}

/** The figures every target is compared on, each as this target's ÷ the reference's. */
export interface Ratios {
  cpuPerRequest: number | null;
  cpuPerLine: number | null;
  rps: number | null;
  ttftAddedP50: number | null;
  ttftAddedP99: number | null;
}

/** `v ÷ of`, or null when either is missing, `of` is not positive or `v` is negative (no ratio to zero or of a gain). */
export function ratio(v: number | null | undefined, of: number | null | undefined): number | null {
  if (v === null || v === undefined || of === null || of === undefined || !(of > 0) || !(v >= 0)) return null;
  return round(v / of);
}

export function ratios(r: TargetRow, ref: TargetRow | undefined): Ratios | null {
  if (!ref || ref.skipped || r.skipped) return null;
  return {
    cpuPerRequest: ratio(r.proxyCpuUsPerRequest, ref.proxyCpuUsPerRequest),
    cpuPerLine: ratio(r.proxyCpuUsPerLine, ref.proxyCpuUsPerLine),
    rps: ratio(r.rps, ref.rps),
    ttftAddedP50: ratio(r.ttftAddedP50Ms, ref.ttftAddedP50Ms),
    ttftAddedP99: ratio(r.ttftAddedP99Ms, ref.ttftAddedP99Ms),
  };
}

/**
 * Every row with its ratios against the Node passthrough and against the previous build, same
 * run (null where that reference was skipped). Below 1 is cheaper / faster for CPU and added TTFT,
 * above 1 is more req/s.
 */
export function compareRows(rows: readonly TargetRow[]): TargetRow[] {
  const passthrough = rows.find((r) => r.name === 'node-passthrough');
  const previous = rows.find((r) => r.name === 'ollama-ring-previous');
  return rows.map((r) => ({ ...r, ratios: { vsPassthrough: ratios(r, passthrough), vsPrevious: ratios(r, previous) } }));
}

/** The targets the goals are set for; the references (passthrough, previous build) have none. */
export const GOAL_TARGETS: readonly TargetName[] = ['ollama-ring-inline', 'ollama-ring-workers'];

export interface Goal {
  what: string;
  target: string;
  measured: string;
  /** null when it could not be measured (nginx or the placement skipped). */
  met: boolean | null;
}

const RPS_RATIO_GOAL = 0.8;
const TTFT_ADDED_GOAL_MS = 2;

export function goals(rows: readonly TargetRow[], streams: number): Goal[] {
  const nginx = rows.find((r) => r.name === 'nginx');
  const out: Goal[] = [];
  for (const r of rows.filter((x) => GOAL_TARGETS.includes(x.name))) {
    if (r.rps === null) {
      out.push({ what: `${r.name} req/s vs nginx`, target: `≥ ${RPS_RATIO_GOAL}×`, measured: 'skipped', met: null });
      out.push({ what: `${r.name} added TTFT p99 at ${streams} streams`, target: `≤ ${TTFT_ADDED_GOAL_MS} ms`, measured: 'skipped', met: null });
      continue;
    }
    if (nginx?.rps == null) out.push({ what: `${r.name} req/s vs nginx`, target: `≥ ${RPS_RATIO_GOAL}×`, measured: 'nginx skipped', met: null });
    else {
      const ratio = r.rps / nginx.rps;
      out.push({ what: `${r.name} req/s vs nginx`, target: `≥ ${RPS_RATIO_GOAL}×`, measured: `${ratio.toFixed(2)}×`, met: ratio >= RPS_RATIO_GOAL });
    }
    const added = r.ttftAddedP99Ms as number;
    out.push({
      what: `${r.name} added TTFT p99 at ${streams} streams`,
      target: `≤ ${TTFT_ADDED_GOAL_MS} ms`,
      measured: `${added.toFixed(2)} ms`,
      met: added <= TTFT_ADDED_GOAL_MS,
    });
  }
  return out;
}
