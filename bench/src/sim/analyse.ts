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
  /** |gap − nominal| / nominal, over every inter-token gap a client saw. */
  gapErrorP50: number;
  gapErrorP99: number;
  gapErrorP999: number;
  gapP99Ms: number;
  gapMaxMs: number;
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
  let totalGaps = 0;
  for (const r of ok) totalGaps += Math.min(r.count, r.arrivals.length) - 1;
  const errors = new Float64Array(totalGaps);
  const gaps = new Float64Array(totalGaps);
  let g = 0;
  let windowStart = -Infinity;
  let windowEnd = Infinity;
  let worstOverrun = 0;
  let tokens = 0;
  let reportedSum = 0;
  let reportedMin = Infinity;
  for (const r of ok) {
    const n = Math.min(r.count, r.arrivals.length);
    tokens += r.count;
    for (let k = 1; k < n; k++) {
      const gap = r.arrivals[k] - r.arrivals[k - 1];
      gaps[g] = gap;
      errors[g++] = Math.abs(gap - nominalGap) / nominalGap;
    }
    windowStart = Math.max(windowStart, r.arrivals[0]);
    windowEnd = Math.min(windowEnd, r.arrivals[n - 1]);
    worstOverrun = Math.max(worstOverrun, r.arrivals[n - 1] - r.arrivals[0] - (n - 1) * nominalGap);
    const rate = r.evalDurationNs > 0 ? r.evalCount / (r.evalDurationNs / 1e9) : 0;
    reportedSum += rate;
    reportedMin = Math.min(reportedMin, rate);
  }
  let inWindow = 0;
  for (const r of ok) {
    const n = Math.min(r.count, r.arrivals.length);
    for (let k = 0; k < n; k++) if (r.arrivals[k] >= windowStart && r.arrivals[k] <= windowEnd) inWindow++;
  }
  const windowMs = windowEnd - windowStart;
  errors.sort();
  gaps.sort();
  return {
    streams: results.length,
    failedStreams: results.length - ok.length,
    tokensReceived: tokens,
    nominalTokensPerSec: results.length * tokensPerSec,
    achievedTokensPerSec: windowMs > 0 ? (inWindow / windowMs) * 1000 : NaN,
    steadyWindowSeconds: windowMs / 1000,
    gapErrorP50: quantile(errors, 0.5),
    gapErrorP99: quantile(errors, 0.99),
    gapErrorP999: quantile(errors, 0.999),
    gapP99Ms: quantile(gaps, 0.99),
    gapMaxMs: gaps.length ? gaps[gaps.length - 1] : NaN,
    worstScheduleOverrunMs: worstOverrun,
    reportedTokensPerSecMean: ok.length ? reportedSum / ok.length : NaN,
    reportedTokensPerSecMin: reportedMin,
  };
}
