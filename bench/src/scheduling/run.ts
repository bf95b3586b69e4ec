/**
 * One strategy, one replay: a fresh simulated pool (own process) and a fresh balancer, so that every
 * strategy starts with the same loaded models and nothing learned. The trace is replayed in wall
 * time (`atMs × timeScale`); every figure is kept in wall ms here and unscaled in summary.ts.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { InferenceRequest, PipelineFactory, type SchedulerObserver, peerGroups } from '@ollama-ring/balancer';
import type { SimNodeState } from '@ollama-ring/ollama-sim';
import { balancerConfig } from './balancer-config';
import { simPoolConfig } from './pool';
import { startSimProcess } from './sim-process';
import type { Trace, TraceRequest } from './trace';

/** One request as the client saw it; times are wall ms since the replay started. */
export interface RequestRecord {
  id: number;
  phase: TraceRequest['phase'];
  stream: boolean;
  /** When the trace wanted it sent, and when it was. */
  dueMs: number;
  startMs: number;
  /** First token: the first streamed chunk, or for `stream: false` the end minus `eval_duration`. */
  firstTokenMs?: number;
  endMs?: number;
  ok: boolean;
  error?: string;
  nodeId?: string;
  /** The final chunk's `load_duration` (wall ms): near 0 when the model was hot. */
  loadMs?: number;
}

/** The balancer's own slot-time counters per node (`PoolView.usage`) at one moment, wall slot-ms. */
export interface UsageMark {
  busy: Record<string, number>;
  capacity: Record<string, number>;
}

export interface RunResult {
  strategy: string;
  timeScale: number;
  records: RequestRecord[];
  /**
   * The balancer's slot-time counters when the replay started, when the burst began and ended, and
   * when the last request ended: utilization over any of these spans is Δbusy ÷ Δcapacity.
   */
  usage: { start: UsageMark; burstStart: UsageMark; burstEnd: UsageMark; end: UsageMark };
  /** The nodes serving each model that two or more serve, as the balancer groups them for its imbalance. */
  peerGroups: Record<string, string[]>;
  slots: Record<string, number>;
  /** Cold loads the balancer knew it caused (`coldLoad` observer events), per node. */
  balancerColdLoads: Record<string, number>;
  /** Balancer queue waits of finished requests, wall ms. */
  queueMs: number[];
  /**
   * Every binding the balancer made (retries included), in order, for diagnosis. `requestId` is the
   * balancer's: it numbers requests as they are admitted, which replay() does in trace order.
   */
  routes: {
    requestId: number;
    nodeId: string;
    model: string;
    cold: boolean;
    queueMs: number;
    atMs: number;
    heldMs?: number;
    /** Cold bindings: whether the balancer held the model resident on another node at the time. */
    residentElsewhere?: boolean;
  }[];
  /** The sim's own counters at the end: loads actually started, evictions. */
  sim: SimNodeState[];
  /** What the balancer learned: per node and model, load ms (wall), NaN if never seen. */
  learnedLoadMs: Record<string, Record<string, number>>;
  /** Event-loop delay of the driver + balancer process during the replay, wall ms. */
  loopDelayP99Ms: number;
}

export interface RunOptions {
  timeScale: number;
  discoveryMs?: number;
}

export async function runStrategy(strategy: string, trace: Trace, opts: RunOptions): Promise<RunResult> {
  const ts = opts.timeScale;
  const sim = await startSimProcess(simPoolConfig(ts));
  const slots = Object.fromEntries(sim.nodes.map((n) => [n.id, 0]));
  const balancerColdLoads: Record<string, number> = Object.fromEntries(sim.nodes.map((n) => [n.id, 0]));
  const queueMs: number[] = [];
  const routes: RunResult['routes'] = [];
  // Reset when the replay starts, so route times share the records' clock.
  let born = performance.now();
  // Per binding, how long the request held its slot (until it ended or was re-routed), for diagnosis.
  const open = new Map<number, { since: number; route: RunResult['routes'][number] }>();
  const close = (requestId: number): void => {
    const o = open.get(requestId);
    if (!o) return;
    o.route.heldMs = performance.now() - o.since;
    open.delete(requestId);
  };
  let factory: PipelineFactory | undefined;
  // Read-only, from inside the scheduler's own callback: which other nodes hold the model.
  const residentElsewhere = (model: string, nodeId: string): boolean | undefined =>
    factory
      ?.getNodeRegistry()
      .getAllNodes()
      .some((n) => n.id !== nodeId && n.loadedModels.some((l) => l.model === model));
  const observer: SchedulerObserver = {
    routed: (e) => {
      close(e.requestId);
      const route: RunResult['routes'][number] = { requestId: e.requestId, nodeId: e.nodeId, model: e.model, cold: e.cold, queueMs: e.queueMs, atMs: performance.now() - born };
      if (e.cold) route.residentElsewhere = residentElsewhere(e.model, e.nodeId);
      routes.push(route);
      open.set(e.requestId, { since: performance.now(), route });
    },
    coldLoad: (nodeId) => void (balancerColdLoads[nodeId] = (balancerColdLoads[nodeId] ?? 0) + 1),
    requestEnded: (e) => {
      close(e.requestId);
      queueMs.push(e.queueMs);
    },
  };
  const config = balancerConfig(strategy, sim.nodes, ts, { discoveryMs: opts.discoveryMs });
  for (const n of config.nodes) slots[n.id] = n.maxConcurrentRequests;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const timers: NodeJS.Timeout[] = [];
  try {
    factory = await PipelineFactory.fromConfig(config, { observer }).start();
    const f = factory;
    const pipeline = factory.getPipeline();
    // Utilization is the balancer's own (busy and capacity slot time per node, which its slot table
    // books at every bind and release); read at the phase boundaries.
    const mark = (): UsageMark => {
      const u = f.getPoolView().usage;
      return {
        busy: Object.fromEntries(Object.entries(u).map(([id, x]) => [id, x.busySlotMs])),
        capacity: Object.fromEntries(Object.entries(u).map(([id, x]) => [id, x.capacitySlotMs])),
      };
    };
    const marks: Partial<RunResult['usage']> = {};
    loop.enable();
    born = performance.now();
    marks.start = mark();
    timers.push(setTimeout(() => (marks.burstStart = mark()), trace.steadyMs * ts));
    timers.push(setTimeout(() => (marks.burstEnd = mark()), (trace.steadyMs + trace.burstMs) * ts));
    const records = await replay(trace, ts, (r, rec, clock) => send(pipeline, r, rec, clock));
    loop.disable();
    const end = mark();
    const usage = { start: marks.start, burstStart: marks.burstStart ?? end, burstEnd: marks.burstEnd ?? end, end };
    const learnedLoadMs: RunResult['learnedLoadMs'] = {};
    for (const [node, e] of Object.entries(factory.getPoolView().estimates)) {
      learnedLoadMs[node] = Object.fromEntries(Object.entries(e.models).map(([m, v]) => [m, v.loadMs]));
    }
    const groups = Object.fromEntries(peerGroups(factory.getPoolView().nodes));
    await factory.stop(1_000);
    factory = undefined;
    return {
      strategy,
      timeScale: ts,
      records,
      usage,
      peerGroups: groups,
      slots,
      balancerColdLoads,
      queueMs,
      routes,
      sim: await sim.state(),
      learnedLoadMs,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    loop.disable();
    await factory?.stop(1_000);
    await sim.close();
  }
}

type Pipeline = ReturnType<PipelineFactory['getPipeline']>;

type Clock = () => number;

/** Sends every request at its time, and resolves when all have ended. */
async function replay(trace: Trace, ts: number, fire: (r: TraceRequest, rec: RequestRecord, clock: Clock) => Promise<void>): Promise<RequestRecord[]> {
  const reqs = trace.requests;
  const records: RequestRecord[] = [];
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  const clock: Clock = () => performance.now() - t0;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      // A late timer sends everything already due at once, so lateness never accumulates.
      while (i < reqs.length && reqs[i].atMs * ts <= clock()) {
        const r = reqs[i++];
        const rec: RequestRecord = { id: r.id, phase: r.phase, stream: r.stream, dueMs: r.atMs * ts, startMs: clock(), ok: false };
        records.push(rec);
        inFlight.push(fire(r, rec, clock));
      }
      if (i >= reqs.length) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, reqs[i].atMs * ts - clock()));
    };
    tick();
  });
  await Promise.all(inFlight);
  return records;
}

/** Sends one request and fills in its record. Never rejects. */
async function send(pipeline: Pipeline, r: TraceRequest, rec: RequestRecord, clock: Clock): Promise<void> {
  const options: Record<string, unknown> = { num_predict: r.numPredict };
  if (r.numCtx !== undefined) options.num_ctx = r.numCtx;
  const req = r.chat ? InferenceRequest.ofChat(r.model, [{ role: 'user', content: r.prompt }], { options }) : InferenceRequest.ofPrompt(r.model, r.prompt, { options });
  try {
    if (r.stream) {
      let last: Record<string, unknown> | undefined;
      for await (const chunk of pipeline.stream(req)) {
        rec.firstTokenMs ??= clock();
        last = chunk;
      }
      rec.endMs = clock();
      if (last?.done !== true) throw new Error('stream ended without a final chunk');
      if (typeof last.load_duration === 'number') rec.loadMs = last.load_duration / 1e6;
    } else {
      const res = await pipeline.submit(req);
      rec.endMs = clock();
      rec.nodeId = res.nodeId;
      // The client sees nothing before the end; the first token was made eval_duration before it.
      const evalMs = typeof res.body.eval_duration === 'number' ? res.body.eval_duration / 1e6 : 0;
      rec.firstTokenMs = rec.endMs - evalMs;
      if (typeof res.body.load_duration === 'number') rec.loadMs = res.body.load_duration / 1e6;
    }
    rec.ok = true;
  } catch (e) {
    rec.ok = false;
    rec.endMs ??= clock();
    rec.error = (e as { code?: string }).code ?? (e as Error).message ?? String(e);
  }
}
