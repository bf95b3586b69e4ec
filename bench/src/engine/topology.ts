/** The five throughput scenarios of LMAX's performance tests, named as they name them. */
export const SCENARIOS = ['unicast-1p1c', 'pipeline-1p3c', 'sequencer-3p1c', 'multicast-1p3c', 'diamond-1p3c'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Events per run: enough for a run of roughly half a second to a few seconds at the expected rate. */
export function eventsFor(name: ScenarioName, quick: boolean, baseline: boolean, scale = 1): number {
  const n = baseline ? (quick ? 200_000 : 600_000) : (name === 'unicast-1p1c' ? 20_000_000 : 6_000_000) * (quick ? 0.5 : 2);
  // Rounded to a multiple of 3 so that the 3-producer scenario splits evenly.
  return Math.max(3, Math.round((n * scale) / 3) * 3);
}

/** Messages a worker posts to the main thread in a run. */
export interface StartMsg {
  startNs: number;
}
export interface DoneMsg {
  doneNs: number;
  count: number;
  sum: number;
}
export interface LatencyMsg {
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  n: number;
}
