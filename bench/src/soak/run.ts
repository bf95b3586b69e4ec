/**
 * One soak run against a gateway over emulated nodes: `concurrency` clients in a closed loop send
 * every kind of request while the chaos (if on) disrupts the pool; then the chaos is undone and the
 * invariants are checked: every request ended exactly once within the bound, nothing is left in
 * flight, no node ever served more requests at once than its slots, and the pool serves again.
 */
import type { BalancerConfig } from '@ollama-ring/balancer';
import type { SimPool } from '@ollama-ring/ollama-sim';
import { Agent } from 'undici';
import { mulberry32 } from '../scheduling/rng';
import { Chaos, type ChaosAction } from './chaos';
import { send, type EndKind, type Outcome } from './client';
import { clientBoundMs } from './config';
import { KINDS, requestOf } from './workload';

export interface MemorySample {
  /** Milliseconds since the run began. */
  atMs: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Memory of C++ objects bound to JS ones, Buffers included. */
  external: number;
  arrayBuffers: number;
  /** Resident bytes of the byte arena (a SharedArrayBuffer, in RSS but not in the heap); 0 when unknown. */
  arenaResident: number;
}

export interface SoakOptions {
  gatewayUrl: string;
  sim: SimPool;
  /** The config the gateway started with, as written to `configFile` (which reloads read). */
  base: BalancerConfig;
  configFile: string;
  durationMs: number;
  concurrency: number;
  chaos: boolean;
  /** A chaos action every this many ms (on average). */
  chaosEveryMs?: number;
  inBandErrors?: boolean;
  /** The share of streamed requests whose client leaves after the first chunk. */
  abortRate?: number;
  seed?: number;
  /** The gateway's memory, sampled every `sampleEveryMs` (the soak's gateway runs in a child process). */
  sampleMemory?: () => Promise<Omit<MemorySample, 'atMs'>>;
  sampleEveryMs?: number;
  progress?: (line: string) => void;
}

export interface SoakResult {
  requests: number;
  durationMs: number;
  byEnd: Partial<Record<EndKind, number>>;
  /** Failed ends by status or error code. */
  byDetail: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  okLatencyMs: { p50: number; p99: number };
  boundMs: number;
  violations: number;
  /** The first violations, each with its request kind. */
  examples: string[];
  chaos: Partial<Record<ChaosAction, number>>;
  adminFailures: string[];
  peaks: { id: string; peak: number; slots: number }[];
  /** Why the gateway did not settle (in flight, queued) after the run; undefined when it did. */
  unsettled?: string;
  /** Kinds that failed the final health check of the pool (one request of each kind after the chaos). */
  afterwards: string[];
  memory: MemorySample[];
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const rnd = mulberry32(o.seed ?? 1);
  const boundMs = clientBoundMs(o.base);
  const agent = new Agent({ connections: o.concurrency + 8, keepAliveTimeout: 4_000 });
  const outcomes: Outcome[] = [];
  const chaos = new Chaos({ sim: o.sim, gatewayUrl: o.gatewayUrl, configFile: o.configFile, base: o.base, rnd, inBandErrors: o.inBandErrors });
  const started = performance.now();
  const end = started + o.durationMs;
  const memory: MemorySample[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (const n of o.sim.nodes) n.reset({ faults: true, models: false, stats: true });

  if (o.sampleMemory) {
    const sample = o.sampleMemory;
    const take = (): void => void sample().then((s) => memory.push({ ...s, atMs: performance.now() - started }));
    take();
    timers.push(setInterval(take, o.sampleEveryMs ?? 10_000));
  }
  if (o.chaos) {
    const every = o.chaosEveryMs ?? 250;
    const tick = (): void => {
      if (performance.now() >= end) return;
      chaos.step();
      timers.push(setTimeout(tick, every * (0.5 + rnd())));
    };
    timers.push(setTimeout(tick, every));
  }
  if (o.progress) {
    const say = o.progress;
    timers.push(
      setInterval(() => {
        const bad = outcomes.filter((x) => x.violation).length;
        say(`${Math.round((performance.now() - started) / 1000)} s: ${outcomes.length} requests, ${bad} violations`);
      }, 30_000),
    );
  }

  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const kind = KINDS[Math.floor(rnd() * KINDS.length)];
      const spec = requestOf(kind, 2 + Math.floor(rnd() * 23));
      const abortAfterFirstChunk = spec.stream && rnd() < (o.abortRate ?? 0.03);
      outcomes.push(await send(agent, o.gatewayUrl, spec, { boundMs, abortAfterFirstChunk }));
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  const durationMs = performance.now() - started;
  await chaos.calm();
  const unsettled = await settle(o.gatewayUrl, o.sim, 20_000);
  const afterwards = await checkAfterwards(agent, o.gatewayUrl, boundMs);
  await agent.close();
  const slots = new Map(o.base.nodes.map((n) => [n.id, n.maxConcurrentRequests]));
  return summarize(outcomes, {
    durationMs,
    boundMs,
    chaos: chaos.counts,
    adminFailures: chaos.adminFailures,
    peaks: o.sim.nodes.map((n) => ({ id: n.id, peak: n.state().peakInferenceInFlight, slots: slots.get(n.id) ?? 0 })),
    unsettled,
    afterwards,
    memory,
  });
}

/** Waits until the gateway has nothing in flight or queued, and no emulated node serves a request. */
async function settle(gatewayUrl: string, sim: SimPool, ms: number): Promise<string | undefined> {
  const deadline = performance.now() + ms;
  let why = '';
  while (performance.now() < deadline) {
    const stats = (await (await fetch(`${gatewayUrl}/api/stats`)).json()) as {
      requests_in_progress: number;
      queue: { depth: number };
      instances: Record<string, { active_requests: number }>;
    };
    const busy = Object.entries(stats.instances).filter(([, i]) => i.active_requests !== 0);
    const simBusy = sim.nodes.filter((n) => n.state().inferenceInFlight !== 0);
    why = `${stats.requests_in_progress} in progress, ${stats.queue.depth} queued, nodes ${JSON.stringify(busy)}, emulated nodes busy: ${simBusy.map((n) => n.id).join(',')}`;
    if (stats.requests_in_progress === 0 && stats.queue.depth === 0 && busy.length === 0 && simBusy.length === 0) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
  return why;
}

/** Once every node can serve again, one request of each kind must succeed. */
async function checkAfterwards(agent: Agent, gatewayUrl: string, boundMs: number): Promise<string[]> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    const h = (await (await fetch(`${gatewayUrl}/health`)).json()) as { nodes: { can_serve: boolean }[] };
    if (h.nodes.every((n) => n.can_serve)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const failed: string[] = [];
  for (const kind of KINDS) {
    const out = await send(agent, gatewayUrl, requestOf(kind, 4), { boundMs });
    if (out.end !== 'ok' || out.violation) failed.push(`${kind}: ${out.end} ${out.detail ?? ''} ${out.violation ?? ''}`.trim());
  }
  return failed;
}

type Extra = Omit<SoakResult, 'requests' | 'byEnd' | 'byDetail' | 'latencyMs' | 'okLatencyMs' | 'violations' | 'examples'>;

function summarize(outcomes: readonly Outcome[], extra: Extra): SoakResult {
  const byEnd: Partial<Record<EndKind, number>> = {};
  const byDetail: Record<string, number> = {};
  for (const x of outcomes) {
    byEnd[x.end] = (byEnd[x.end] ?? 0) + 1;
    if (x.end !== 'ok' && x.end !== 'client-abort') byDetail[`${x.end} ${x.detail ?? ''}`.trim()] = (byDetail[`${x.end} ${x.detail ?? ''}`.trim()] ?? 0) + 1;
  }
  const bad = outcomes.filter((x) => x.violation);
  const all = Float64Array.from(outcomes.map((x) => x.latencyMs)).sort();
  const ok = Float64Array.from(outcomes.filter((x) => x.end === 'ok').map((x) => x.latencyMs)).sort();
  const pct = (s: Float64Array, p: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
  return {
    requests: outcomes.length,
    byEnd,
    byDetail,
    latencyMs: { p50: pct(all, 50), p99: pct(all, 99), max: all.length ? all[all.length - 1] : NaN },
    okLatencyMs: { p50: pct(ok, 50), p99: pct(ok, 99) },
    violations: bad.length,
    examples: bad.slice(0, 10).map((x) => `${x.kind}: ${x.violation}`),
    ...extra,
  };
}
