/** One scenario of `bench:replicas`: the emulated pool, N gateway processes, the trace replayed through a round-robin client. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { RedisServer } from '../common/redis-server';
import { percentile } from '../common/stats';
import { balancerConfig } from '../scheduling/balancer-config';
import { simPoolConfig } from '../scheduling/pool';
import { startSimProcess } from '../scheduling/sim-process';
import type { Trace } from '../scheduling/trace';
import { type ClientRecord, RoundRobinClient } from './client';
import { sampleTimeline, writeTimeline } from './timeline';
import { type GatewayProcess, killGatewayProcess, startGatewayProcess, stopGatewayProcess } from './gateway-process';

export type ScenarioKind = 'single' | 'memory-3' | 'redis-3' | 'redis-3-kill' | 'redis-3-outage' | 'redis-3-outage-wall';

export interface ScenarioOptions {
  timeScale: number;
  redis: RedisServer;
  /** How long Redis is stopped in the outage scenario (unscaled ms: trace time, like every other duration). */
  outageMs: number;
  /** How long Redis is stopped in the stress scenario `redis-3-outage-wall` (wall ms: ten times the trace time at scale 0.1). */
  outageWallMs: number;
  leaseTtlMs: number;
  /** A file to append each replica's state through the run to (`timeline.ts`). */
  timeline?: string;
}

export interface ScenarioResult {
  kind: ScenarioKind;
  requests: number;
  failed: number;
  /** Of the failed, those that never started: refused with an error status, or no byte at all (not streams cut mid-answer). */
  failedUnstarted: number;
  retried: number;
  /** Model loads the emulator performed (its preloads excluded): placement that disagrees across replicas shows here. */
  loads: number;
  /** Unscaled ms from the first send to the last end. */
  makespanMs: number;
  /** Unscaled ms. */
  ttftP99Ms: number;
  /** Per node: the most inference requests the emulator had at once, and the node's slots. */
  peaks: Record<string, { peak: number; slots: number }>;
  /** Every surviving replica's in-flight counts were back at zero after the run. */
  idleAfter: boolean;
  /** The failures' errors, most frequent first (at most five kinds). */
  errors: string[];
  /** Kill scenario: wall ms from the SIGKILL until none of its leases was left in Redis. */
  reclaimedAfterMs?: number;
}

export async function runScenario(kind: ScenarioKind, trace: Trace, opts: ScenarioOptions): Promise<ScenarioResult> {
  const ts = opts.timeScale;
  const sim = await startSimProcess(simPoolConfig(ts));
  const dir = mkdtempSync(join(tmpdir(), 'bench-replicas-'));
  const replicas = kind === 'single' ? 1 : 3;
  const shared = kind.startsWith('redis');
  const prefix = `bench-${kind}-${Date.now()}:`;
  const config = balancerConfig('predictive', sim.nodes, ts);
  if (shared) {
    config.state = {
      backend: 'redis',
      redis: { ...config.state.redis, url: opts.redis.url, keyPrefix: prefix, leaseTtlMs: opts.leaseTtlMs, commandTimeoutMs: Math.min(2000, Math.floor(opts.leaseTtlMs / 2)) },
    };
  }
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const gateways: GatewayProcess[] = [];
  try {
    for (let i = 0; i < replicas; i++) gateways.push(await startGatewayProcess(file, { OLLAMA_RING__STATE__REDIS__REPLICA_ID: `gw-${i}` }));
    const client = new RoundRobinClient(() => gateways.map((g) => g.url));
    const t0 = performance.now();
    const clock = (): number => performance.now() - t0;
    const wallMs = (trace.steadyMs + trace.burstMs) * ts;
    let reclaimed: Promise<number> | undefined;
    const timers: NodeJS.Timeout[] = [];
    if (kind === 'redis-3-kill') {
      timers.push(
        setTimeout(
          () =>
            (reclaimed = killAndWatch(
              gateways[2],
              opts.redis.url,
              prefix,
              sim.nodes.map((n) => n.id),
            )),
          wallMs * 0.4,
        ),
      );
    }
    if (kind === 'redis-3-outage' || kind === 'redis-3-outage-wall') {
      const stopMs = kind === 'redis-3-outage' ? opts.outageMs * ts : opts.outageWallMs;
      timers.push(
        setTimeout(
          () =>
            void opts.redis
              .stop()
              .then(() => new Promise((r) => setTimeout(r, stopMs)))
              .then(() => opts.redis.restart()),
          wallMs * 0.3,
        ),
      );
    }
    const sampler = opts.timeline ? sampleTimeline(() => gateways.filter((g) => !g.gone()).map((g) => g.url), clock) : undefined;
    const records = await replay(trace, ts, (r) => client.send(r, clock));
    for (const t of timers) clearTimeout(t);
    if (sampler && opts.timeline) writeTimeline(opts.timeline, kind, await sampler.stop(), records);
    const reclaimedAfterMs = reclaimed ? await reclaimed : undefined;
    const live = gateways.filter((g) => !g.gone());
    const idleAfter = await idle(live);
    const state = await sim.state();
    const peaks = Object.fromEntries(state.map((s) => [s.id, { peak: s.peakInferenceInFlight, slots: config.nodes.find((n) => n.id === s.id)!.maxConcurrentRequests }]));
    const ok = records.filter((r) => r.ok);
    const end = Math.max(...records.map((r) => r.endMs ?? 0));
    const start = Math.min(...records.map((r) => r.startMs));
    return {
      kind,
      requests: records.length,
      failed: records.length - ok.length,
      failedUnstarted: records.filter((r) => !r.ok && (r.firstByteMs === undefined || r.status !== 200)).length,
      retried: records.filter((r) => r.retries > 0).length,
      makespanMs: (end - start) / ts,
      ttftP99Ms: percentile(
        ok.map((r) => ((r.firstByteMs ?? r.endMs!) - r.startMs) / ts),
        99,
      ),
      peaks,
      loads: state.reduce((a, n) => a + n.loadsStarted, 0),
      idleAfter,
      reclaimedAfterMs,
      errors: topErrors(records),
    };
  } finally {
    await Promise.all(gateways.map(stopGatewayProcess));
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sends every request at its (scaled) time; resolves with every record once all have ended. */
async function replay(trace: Trace, ts: number, fire: (r: Trace['requests'][number]) => Promise<ClientRecord>): Promise<ClientRecord[]> {
  const t0 = performance.now();
  const sent: Promise<ClientRecord>[] = [];
  for (const r of trace.requests) {
    const wait = r.atMs * ts - (performance.now() - t0);
    if (wait > 1) await new Promise((res) => setTimeout(res, wait));
    sent.push(fire(r));
  }
  return Promise.all(sent);
}

/** SIGKILLs the replica, then watches Redis until none of its leases is left; the wall ms that took. */
async function killAndWatch(victim: GatewayProcess, url: string, prefix: string, nodes: readonly string[]): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await killGatewayProcess(victim);
    const killed = performance.now();
    for (;;) {
      let left = 0;
      for (const n of nodes) left += (await redis.zrange(`${prefix}slots:${n}`, 0, -1)).filter((m) => m.startsWith('gw-2#')).length;
      if (left === 0) return performance.now() - killed;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    redis.disconnect();
  }
}

/** Whether every replica's nodes show nothing in flight, within 10 s. */
async function idle(gateways: readonly GatewayProcess[]): Promise<boolean> {
  const end = Date.now() + 10_000;
  for (;;) {
    let busy = 0;
    for (const g of gateways) {
      const h = (await (await fetch(`${g.url}/health`)).json()) as { nodes: { in_flight: number }[] };
      busy += h.nodes.reduce((s, n) => s + n.in_flight, 0);
    }
    if (busy === 0) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function topErrors(records: readonly ClientRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const r of records) if (!r.ok) counts.set((r.error ?? 'unknown').slice(0, 120), (counts.get((r.error ?? 'unknown').slice(0, 120)) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([e, n]) => `${n}× ${e}`);
}
