/** Turns per-stream arrival times into the figures bench:sim reports. */
import type { StreamResult } from './load';

export interface SimBenchFigures {
  streams: number;
  failedStreams: number;
  tokensReceived: number;
  nominalTokensPerSec: number;
  /** Aggregate token lines/s while every stream was running (the steady window). */
  achievedTokensPerSec: number;
  steadyWindowSeconds: number;
  /**
   * |gap − nominal| / nominal over the inter-token gaps inside the steady window (every stream
   * started, none finished): the sustained behaviour, without connection set-up and wind-down.
   */
  gapErrorP50: number;
  gapErrorP99: number;
  gapErrorP999: number;
  gapP99Ms: number;
  gapMaxMs: number;
  /** The same over every gap of the run, ramp-up and wind-down included. */
  allGapErrorP50: number;
  allGapErrorP99: number;
  allGapErrorP999: number;
  /** How far the slowest stream's token phase overran its schedule, in ms. */
  worstScheduleOverrunMs: number;
  /** eval_count / eval_duration from the final chunks: what the sim says it achieved per stream. */
  reportedTokensPerSecMean: number;
  reportedTokensPerSecMin: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function analyse(results: StreamResult[], tokensPerSec: number): SimBenchFigures {
  const nominalGap = 1000 / tokensPerSec;
  const ok = results.filter((r) => !r.error && r.count > 1);
  const len = (r: StreamResult): number => Math.min(r.count, r.arrivals.length);
  let windowStart = -Infinity;
  let windowEnd = Infinity;
  let worstOverrun = 0;
  let tokens = 0;
  let totalGaps = 0;
  let reportedSum = 0;
  let reportedMin = Infinity;
  for (const r of ok) {
    const n = len(r);
    tokens += r.count;
    totalGaps += n - 1;
    windowStart = Math.max(windowStart, r.arrivals[0]);
    windowEnd = Math.min(windowEnd, r.arrivals[n - 1]);
    worstOverrun = Math.max(worstOverrun, r.arrivals[n - 1] - r.arrivals[0] - (n - 1) * nominalGap);
    const rate = r.evalDurationNs > 0 ? r.evalCount / (r.evalDurationNs / 1e9) : 0;
    reportedSum += rate;
    reportedMin = Math.min(reportedMin, rate);
  }
  const all = new Float64Array(totalGaps);
  const steady: number[] = [];
  const steadyGaps: number[] = [];
  let g = 0;
  let inWindow = 0;
  for (const r of ok) {
    const n = len(r);
    for (let k = 0; k < n; k++) {
      const t = r.arrivals[k];
      const inside = t >= windowStart && t <= windowEnd;
      if (inside) inWindow++;
      if (k === 0) continue;
      const gap = t - r.arrivals[k - 1];
      const err = Math.abs(gap - nominalGap) / nominalGap;
      all[g++] = err;
      if (inside && r.arrivals[k - 1] >= windowStart) {
        steady.push(err);
        steadyGaps.push(gap);
      }
    }
  }
  const windowMs = windowEnd - windowStart;
  all.sort();
  const steadyErr = Float64Array.from(steady).sort();
  const gaps = Float64Array.from(steadyGaps).sort();
  return {
    streams: results.length,
    failedStreams: results.length - ok.length,
    tokensReceived: tokens,
    nominalTokensPerSec: results.length * tokensPerSec,
    achievedTokensPerSec: windowMs > 0 ? (inWindow / windowMs) * 1000 : NaN,
    steadyWindowSeconds: windowMs / 1000,
    gapErrorP50: quantile(steadyErr, 0.5),
    gapErrorP99: quantile(steadyErr, 0.99),
    gapErrorP999: quantile(steadyErr, 0.999),
    gapP99Ms: quantile(gaps, 0.99),
    gapMaxMs: gaps.length ? gaps[gaps.length - 1] : NaN,
    allGapErrorP50: quantile(all, 0.5),
    allGapErrorP99: quantile(all, 0.99),
    allGapErrorP999: quantile(all, 0.999),
    worstScheduleOverrunMs: worstOverrun,
    reportedTokensPerSecMean: ok.length ? reportedSum / ok.length : NaN,
    reportedTokensPerSecMin: reportedMin,
  };
}
