/** Turns one run's raw wall-clock records into the reported figures, in UNSCALED ms and req/s. */
import { imbalanceOf } from '@ollama-ring/balancer';
import { median, percentile } from '../common/stats';
import { MODELS, NODES, TEMPLATE_TOKENS, estimateCapacity, meanTemplateTokens, nominalServiceMs } from './pool';
import type { RunResult, UsageMark } from './run';
import { WORKLOAD, meanOutputTokens, meanPromptTokens, modelPopularity, type Trace } from './trace';

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
  /** Busy slot time ÷ (slots × run time), per node, from the balancer's own counters (`PoolView.usage`). */
  utilization: Record<string, number>;
  /** The same over the burst (arrivals at 150 % of capacity): utilization under saturation. */
  burstUtilization: Record<string, number>;
  /**
   * The balancer's load imbalance over the run and over the burst: (max − min) ÷ mean utilization of
   * the nodes serving a model, the largest over the models two or more nodes serve; null for none.
   */
  imbalance: number | null;
  burstImbalance: number | null;
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
  /**
   * The same bindings by cause: the request asked for another `num_ctx` (a reload wherever it
   * goes); the model was resident on no other node (a first copy, or one back after an eviction);
   * or it was resident elsewhere and this added another copy (a choice: that copy was busy).
   */
  coldBoundByCause: { numCtx: number; firstCopy: number; extraCopy: number };
  /** Mean slot time held by a request the balancer bound cold, and hot (unscaled ms). */
  coldHeldMeanMs: number;
  hotHeldMeanMs: number;
  /** Median of learned load time ÷ configured load time over (node, model) pairs seen loading. */
  learnedLoadRatio: number;
  /**
   * The capacity self-check. Over requests that ran hot (bound hot, final chunk's load under 50 ms
   * wall), Σ slot time held ÷ Σ nominal service time (what pool.ts's capacity estimate assumes),
   * pooled and per node; and the capacity estimate recomputed with each node's measured ratio: the
   * hot-service capacity the pool really delivered in this run. NaN when nothing ran hot.
   */
  hotSlotRatio: number;
  hotSlotRatioByNode: Record<string, number>;
  measuredHotCapacityRps: number;
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
  const utilization = utilizationBetween(run.usage.start, run.usage.end);
  const burstUtilization = utilizationBetween(run.usage.burstStart, run.usage.burstEnd);
  const groups = new Map(Object.entries(run.peerGroups));
  const imbalance = imbalanceOf(groups, (id) => utilization[id] ?? 0).worst;
  const burstImbalance = imbalanceOf(groups, (id) => burstUtilization[id] ?? 0).worst;
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
    burstUtilization,
    imbalance: imbalance === null ? null : round(imbalance, 3),
    burstImbalance: burstImbalance === null ? null : round(burstImbalance, 3),
    coldLoadsBalancer: Object.values(run.balancerColdLoads).reduce((a, b) => a + b, 0),
    coldLoadsByNode,
    evictions: run.sim.reduce((a, s) => a + s.evictions, 0),
    ttftP99StreamMs: round(
      percentile(
        ok.filter((r) => r.stream).map((r) => u((r.firstTokenMs as number) - r.startMs)),
        99,
      ),
    ),
    ttftP99BurstMs: round(
      percentile(
        ok.filter((r) => r.phase === 'burst').map((r) => u((r.firstTokenMs as number) - r.startMs)),
        99,
      ),
    ),
    queueP50Ms: round(percentile(run.queueMs.map(u), 50)),
    queueP99Ms: round(percentile(run.queueMs.map(u), 99)),
    failures,
    sendLagP99Ms: round(
      percentile(
        run.records.map((r) => u(r.startMs - r.dueMs)),
        99,
      ),
    ),
    loopDelayP99WallMs: round(run.loopDelayP99Ms, 2),
    routedByNode,
    coldBoundByPhase: coldByPhase(run, trace),
    coldBoundByCause: coldByCause(run, trace),
    coldHeldMeanMs: round(u(mean(run.routes.filter((r) => r.cold).map((r) => r.heldMs ?? 0)))),
    hotHeldMeanMs: round(u(mean(run.routes.filter((r) => !r.cold).map((r) => r.heldMs ?? 0)))),
    learnedLoadRatio: round(learnedLoadRatio(run), 2),
    ...hotService(run, trace),
  };
}

/** Per node, busy ÷ capacity slot time between two marks of the balancer's counters. */
function utilizationBetween(from: UsageMark, to: UsageMark): Record<string, number> {
  return Object.fromEntries(
    Object.keys(to.busy).map((id) => {
      const capacity = to.capacity[id] - (from.capacity[id] ?? 0);
      return [id, capacity > 0 ? round((to.busy[id] - (from.busy[id] ?? 0)) / capacity, 3) : 0];
    }),
  );
}

/** A final chunk's load_duration from this many wall ms on means a real load (the balancer's REAL_LOAD_MS). */
const HOT_LOAD_MS = 50;

/**
 * The trace request and client record behind each balancer request id. The balancer numbers
 * requests as it admits them, and replay() admits them in trace order, one record each: balancer id
 * (first + k) is records[k]. Checked against every binding's model; undefined if they disagree.
 */
function lineUp(run: RunResult, trace: Trace): Map<number, { rec: RunResult['records'][number]; req: Trace['requests'][number] }> | undefined {
  const out = new Map<number, { rec: RunResult['records'][number]; req: Trace['requests'][number] }>();
  if (run.routes.length === 0) return out;
  const first = Math.min(...run.routes.map((r) => r.requestId));
  for (const r of run.routes) {
    const rec = run.records[r.requestId - first];
    const req = rec && trace.requests[rec.id];
    if (!req || req.model !== r.model) {
      console.warn(`diagnostics skipped: balancer request ${r.requestId} (${r.model}) does not line up with the trace`);
      return undefined;
    }
    out.set(r.requestId, { rec, req });
  }
  return out;
}

/** See StrategyResult.coldBoundByCause. */
function coldByCause(run: RunResult, trace: Trace): StrategyResult['coldBoundByCause'] {
  const out = { numCtx: 0, firstCopy: 0, extraCopy: 0 };
  const byId = lineUp(run, trace);
  if (!byId) return { numCtx: NaN, firstCopy: NaN, extraCopy: NaN };
  for (const r of run.routes) {
    if (!r.cold) continue;
    if (byId.get(r.requestId)?.req.numCtx !== undefined) out.numCtx++;
    else if (r.residentElsewhere) out.extraCopy++;
    else out.firstCopy++;
  }
  return out;
}

/** See StrategyResult.hotSlotRatio. */
function hotService(run: RunResult, trace: Trace): Pick<StrategyResult, 'hotSlotRatio' | 'hotSlotRatioByNode' | 'measuredHotCapacityRps'> {
  const none = { hotSlotRatio: NaN, hotSlotRatioByNode: {}, measuredHotCapacityRps: NaN };
  const byId = lineUp(run, trace);
  if (!byId) return none;
  const last = new Map<number, RunResult['routes'][number]>();
  for (const r of run.routes) last.set(r.requestId, r);
  const held: Record<string, number> = {};
  const nominal: Record<string, number> = {};
  for (const r of last.values()) {
    const { rec, req } = byId.get(r.requestId) as { rec: RunResult['records'][number]; req: Trace['requests'][number] };
    if (!rec.ok || r.cold || r.heldMs === undefined || rec.loadMs === undefined || rec.loadMs >= HOT_LOAD_MS) continue;
    const prompt = req.promptTokens + (req.chat ? TEMPLATE_TOKENS.chat : TEMPLATE_TOKENS.generate);
    held[r.nodeId] = (held[r.nodeId] ?? 0) + r.heldMs / run.timeScale;
    nominal[r.nodeId] = (nominal[r.nodeId] ?? 0) + nominalServiceMs(r.nodeId, req.model, prompt, req.numPredict);
  }
  const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
  const pooled = sum(held) / sum(nominal);
  if (!Number.isFinite(pooled)) return none;
  // A node with no hot request is taken to be as slow as the pool.
  const byNode = Object.fromEntries(NODES.map((n) => [n.id, nominal[n.id] ? held[n.id] / nominal[n.id] : pooled]));
  const measured = estimateCapacity(modelPopularity(), meanPromptTokens() + meanTemplateTokens(WORKLOAD.chatShare), meanOutputTokens(), byNode);
  return {
    hotSlotRatio: round(pooled, 3),
    hotSlotRatioByNode: Object.fromEntries(Object.entries(byNode).map(([k, v]) => [k, round(v, 3)])),
    measuredHotCapacityRps: round(measured.rps, 3),
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
