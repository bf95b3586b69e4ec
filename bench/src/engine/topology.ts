/** The five throughput scenarios of LMAX's performance tests, named as they name them. */
export const SCENARIOS = ['unicast-1p1c', 'pipeline-1p3c', 'sequencer-3p1c', 'multicast-1p3c', 'diamond-1p3c'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Events per run: enough for a run of roughly half a second to a few seconds at the expected rate. */
export function eventsFor(name: ScenarioName, quick: boolean, baseline: boolean): number {
  if (baseline) return quick ? 200_000 : 600_000;
  const base = name === 'unicast-1p1c' ? 20_000_000 : 6_000_000;
  return quick ? base / 2 : base * 2;
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
