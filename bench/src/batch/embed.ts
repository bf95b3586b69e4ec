/**
 * `bench:embed` (and scenario 2 of `bench:batch`): what embedding autobatch buys. The same closed-loop load, single-input `/api/embed`
 * requests from many concurrent clients, is sent through a gateway with `autobatch.enabled` off and
 * then on, each against a fresh emulated node whose embed calls cost a fixed overhead plus a little
 * per input (`--call-ms`, `--input-ms`). Reported: wall time, requests per second, client latency
 * percentiles, and the upstream calls the node received. Not a test: run it on a quiet machine.
 * `bench:batch --only embed` runs the same comparison in rounds, with its target (on ÷ off ≥ 3×).
 *
 *   pnpm bench:embed [--quick] [--requests 20000] [--clients 64] [--call-ms 10] [--input-ms 0.5] [--window-ms 2] [--json out.json]
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { percentile } from '../common/stats';
import { markdownTable } from '../common/table';
import { type Child, startChild } from '../proxy/child';
import type { GatewayChildOptions } from '../proxy/protocol';
import { cpuWindow } from './load';
import { EMBED_MODEL, type EmbedSimOptions } from './sim-child';

export interface EmbedRun {
  autobatch: boolean;
  requests: number;
  errors: number;
  wallMs: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  upstreamCalls: number;
}

export function num(flags: Map<string, string | true>, key: string, fallback: number): number {
  const v = flags.get(key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isFinite(n) || n < 0) throw new Error(`--${key} needs a number >= 0 (got ${String(v)})`);
  return n;
}

/** `requests` single-input embeds, `clients` at a time, each client sending its next once answered. */
async function load(url: string, requests: number, clients: number): Promise<{ latencies: number[]; errors: number; wallMs: number }> {
  const pool = new Pool(url, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  const client = async (): Promise<void> => {
    while (next < requests) {
      const i = next++;
      const start = performance.now();
      try {
        const res = await pool.request({
          method: 'POST',
          path: '/api/embed',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: EMBED_MODEL, input: `document ${i}` }),
        });
        await res.body.text();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const wallMs = performance.now() - t0;
  await pool.close();
  return { latencies, errors, wallMs };
}

async function upstreamCalls(simUrl: string): Promise<number> {
  const res = await fetch(`${simUrl}/_sim/state`);
  const state = (await res.json()) as { byRoute: Record<string, number> };
  return state.byRoute['POST /api/embed'] ?? 0;
}

/** The settings of one comparison: the load, the node's embed cost, the coalescing window. */
export interface EmbedSettings {
  requests: number;
  clients: number;
  sim: EmbedSimOptions;
  windowMs: number;
}

/** The settings from the command line (`--requests`, `--clients`, `--call-ms`, `--input-ms`, `--window-ms`). */
export function embedSettings(flags: Map<string, string | true>, quick: boolean, quickSize = { requests: 1_000, clients: 16 }): EmbedSettings {
  return {
    requests: num(flags, 'requests', quick ? quickSize.requests : 20_000),
    clients: num(flags, 'clients', quick ? quickSize.clients : 64),
    sim: { embedCallMs: num(flags, 'call-ms', 10), embedInputMs: num(flags, 'input-ms', 0.5) },
    windowMs: num(flags, 'window-ms', 2),
  };
}

/**
 * One setting on a fresh node and gateway. `otherPct`: the share of a core other processes took
 * meanwhile (not the bench's own: the driver, the node and the gateway), when it can be read.
 */
export async function runOnce(autobatch: boolean, s: EmbedSettings): Promise<EmbedRun & { otherPct?: number }> {
  const { requests, clients, sim, windowMs } = s;
  const children: Child[] = [];
  try {
    const simChild = await startChild('../batch/sim-child', sim);
    children.push(simChild);
    const gw: GatewayChildOptions = { simUrl: simChild.url, placement: 'inline', maxInFlight: clients, set: { 'autobatch.enabled': autobatch, 'autobatch.windowMs': windowMs } };
    const gateway = await startChild('gateway-child', gw);
    children.push(gateway);
    const before = await upstreamCalls(simChild.url);
    const other = cpuWindow([simChild.pid, gateway.pid]);
    const r = await load(gateway.url, requests, clients);
    const otherPct = other();
    const calls = (await upstreamCalls(simChild.url)) - before;
    return {
      ...(otherPct !== undefined && { otherPct }),
      autobatch,
      requests,
      errors: r.errors,
      wallMs: r.wallMs,
      reqPerSec: (requests / r.wallMs) * 1000,
      p50Ms: percentile(r.latencies, 50),
      p99Ms: percentile(r.latencies, 99),
      upstreamCalls: calls,
    };
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}

async function main(): Promise<void> {
  const args = parseArgs();
  const settings = embedSettings(args.flags, args.quick);
  const { requests, clients, sim, windowMs } = settings;
  const results: EmbedRun[] = [];
  for (const on of [false, true]) results.push(await runOnce(on, settings));
  const f = (n: number, d = 1) => n.toFixed(d);
  console.log(
    `\n${requests} single-input /api/embed requests, ${clients} concurrent clients; node: ${sim.embedCallMs} ms a call + ${sim.embedInputMs} ms an input; window ${windowMs} ms\n`,
  );
  console.log(
    markdownTable(
      ['autobatch', 'wall s', 'req/s', 'p50 ms', 'p99 ms', 'upstream calls', 'errors'],
      results.map((r) => [r.autobatch ? 'on' : 'off', f(r.wallMs / 1000, 2), f(r.reqPerSec, 0), f(r.p50Ms), f(r.p99Ms), r.upstreamCalls, r.errors]),
    ),
  );
  if (args.json) console.log(`\nwrote ${writeJson(args.json, { machine: machineInfo(), requests, clients, sim, windowMs, results })}`);
}

// Only when run as `bench:embed` (bench:batch imports the comparison from here).
if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
