/** Turns one run's raw wall-clock records into the reported figures, in UNSCALED ms and req/s. */
import { median, percentile } from '../common/stats';
import { MODELS, NODES } from './pool';
import type { RunResult } from './run';
import type { Trace } from './trace';

export interface StrategyResult {
  name: string;
  completed: number;
  failed: number;
  /** Completed requests ÷ (last end − first arrival). */
  throughputRps: number;
  /** Completions inside the burst window ÷ its length. */
  burstThroughputRps: number;
  /** Time to first token over completed requests (see RequestRecord.firstTokenMs). */
  ttftP50Ms: number;
  ttftP99Ms: number;
  latencyP99Ms: number;
  /** Model loads the sim actually performed (its `loadsStarted`; start-up preloads excluded). */
  coldLoads: number;
  /** Busy slot time ÷ (slots × run time), per node. */
  utilization: Record<string, number>;
  // Diagnostics, beyond the required fields.
  /** Cold loads as the balancer saw them at binding (`coldLoad` events). */
  coldLoadsBalancer: number;
  coldLoadsByNode: Record<string, number>;
  evictions: number;
  ttftP99StreamMs: number;
  ttftP99BurstMs: number;
  queueP50Ms: number;
  queueP99Ms: number;
  failures: Record<string, number>;
  /** How late the driver sent requests (p99), unscaled ms: a check that the machine kept up. */
  sendLagP99Ms: number;
  /** Event-loop delay p99 of the balancer's process, WALL ms. */
  loopDelayP99WallMs: number;
  /** Requests bound per node (retries count again). */
  routedByNode: Record<string, number>;
  /** Bindings the balancer knew were cold, by when they happened: first 30 s, rest of steady, burst, after. */
  coldBoundByPhase: { first30s: number; steady: number; burst: number; after: number };
  /** Mean slot time held by a request the balancer bound cold, and hot (unscaled ms). */
  coldHeldMeanMs: number;
  hotHeldMeanMs: number;
  /** Median of learned load time ÷ configured load time over (node, model) pairs seen loading. */
  learnedLoadRatio: number;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const round = (x: number, d = 1): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

export function summarise(run: RunResult, trace: Trace): StrategyResult {
  const ts = run.timeScale;
  const u = (wallMs: number): number => wallMs / ts;
  const ok = run.records.filter((r) => r.ok);
  const failed = run.records.filter((r) => !r.ok);
  const ends = run.records.map((r) => r.endMs ?? 0);
  const runWallMs = Math.max(...ends, 1);
  const ttft = ok.map((r) => u((r.firstTokenMs as number) - r.startMs));
  const latency = ok.map((r) => u((r.endMs as number) - r.startMs));
  const burstFrom = trace.steadyMs * ts;
  const burstTo = (trace.steadyMs + trace.burstMs) * ts;
  const inBurst = ok.filter((r) => (r.endMs as number) >= burstFrom && (r.endMs as number) < burstTo).length;
  const failures: Record<string, number> = {};
  for (const r of failed) failures[r.error ?? 'unknown'] = (failures[r.error ?? 'unknown'] ?? 0) + 1;
  const coldLoadsByNode = Object.fromEntries(run.sim.map((s) => [s.id, s.loadsStarted]));
  const routedByNode: Record<string, number> = Object.fromEntries(run.sim.map((x) => [x.id, 0]));
  for (const r of run.routes) routedByNode[r.nodeId] = (routedByNode[r.nodeId] ?? 0) + 1;
  const utilization = Object.fromEntries(
    Object.entries(run.busyMs).map(([id, busy]) => [id, round(busy / (run.slots[id] * runWallMs), 3)]),
  );
  return {
    name: run.strategy,
    completed: ok.length,
    failed: failed.length,
    throughputRps: round(ok.length / (u(runWallMs) / 1000), 3),
    burstThroughputRps: round(inBurst / (trace.burstMs / 1000), 3),
    ttftP50Ms: round(percentile(ttft, 50)),
    ttftP99Ms: round(percentile(ttft, 99)),
    latencyP99Ms: round(percentile(latency, 99)),
    coldLoads: run.sim.reduce((a, s) => a + s.loadsStarted, 0),
    utilization,
    coldLoadsBalancer: Object.values(run.balancerColdLoads).reduce((a, b) => a + b, 0),
    coldLoadsByNode,
    evictions: run.sim.reduce((a, s) => a + s.evictions, 0),
    ttftP99StreamMs: round(percentile(ok.filter((r) => r.stream).map((r) => u((r.firstTokenMs as number) - r.startMs)), 99)),
    ttftP99BurstMs: round(percentile(ok.filter((r) => r.phase === 'burst').map((r) => u((r.firstTokenMs as number) - r.startMs)), 99)),
    queueP50Ms: round(percentile(run.queueMs.map(u), 50)),
    queueP99Ms: round(percentile(run.queueMs.map(u), 99)),
    failures,
    sendLagP99Ms: round(percentile(run.records.map((r) => u(r.startMs - r.dueMs)), 99)),
    loopDelayP99WallMs: round(run.loopDelayP99Ms, 2),
    routedByNode,
    coldBoundByPhase: coldByPhase(run, trace),
    coldHeldMeanMs: round(u(mean(run.routes.filter((r) => r.cold).map((r) => r.heldMs ?? 0)))),
    hotHeldMeanMs: round(u(mean(run.routes.filter((r) => !r.cold).map((r) => r.heldMs ?? 0)))),
    learnedLoadRatio: round(learnedLoadRatio(run), 2),
  };
}

function coldByPhase(run: RunResult, trace: Trace): StrategyResult['coldBoundByPhase'] {
  const out = { first30s: 0, steady: 0, burst: 0, after: 0 };
  for (const r of run.routes) {
    if (!r.cold) continue;
    const t = r.atMs / run.timeScale;
    if (t < 30_000) out.first30s++;
    else if (t < trace.steadyMs) out.steady++;
    else if (t < trace.steadyMs + trace.burstMs) out.burst++;
    else out.after++;
  }
  return out;
}

/**
 * Checks the units: the sim reports load_duration in scaled wall time and the balancer learns it as
 * wall ms, so learned ÷ timeScale should be near the configured unscaled load (above 1 when a load
 * also waited for another load on the same node, as Ollama's load_duration does).
 */
function learnedLoadRatio(run: RunResult): number {
  const ratios: number[] = [];
  for (const [nodeId, models] of Object.entries(run.learnedLoadMs)) {
    const node = NODES.find((n) => n.id === nodeId);
    if (!node) continue;
    for (const [model, wallMs] of Object.entries(models)) {
      if (!Number.isFinite(wallMs)) continue;
      const m = MODELS.find((x) => x.name === model);
      if (!m) continue;
      const configured = m.loadMs * node.loadFactor;
      ratios.push(wallMs / run.timeScale / configured);
    }
  }
  return median(ratios);
}
