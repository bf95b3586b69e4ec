/**
 * `bench:embed`: what embedding autobatch buys. The same closed-loop load, single-input `/api/embed`
 * requests from many concurrent clients, is sent through a gateway with `autobatch.enabled` off and
 * then on, each against a fresh emulated node whose embed calls cost a fixed overhead plus a little
 * per input (`--call-ms`, `--input-ms`). Reported: wall time, requests per second, client latency
 * percentiles, and the upstream calls the node received. Not a test: run it on a quiet machine.
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
import { EMBED_MODEL, type EmbedSimOptions } from './sim-child';

interface RunResult {
  autobatch: boolean;
  requests: number;
  errors: number;
  wallMs: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  upstreamCalls: number;
}

function num(flags: Map<string, string | true>, key: string, fallback: number): number {
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

async function runOnce(autobatch: boolean, requests: number, clients: number, sim: EmbedSimOptions, windowMs: number): Promise<RunResult> {
  const children: Child[] = [];
  try {
    const simChild = await startChild('../batch/sim-child', sim);
    children.push(simChild);
    const gw: GatewayChildOptions = { simUrl: simChild.url, placement: 'inline', maxInFlight: clients, set: { 'autobatch.enabled': autobatch, 'autobatch.windowMs': windowMs } };
    const gateway = await startChild('gateway-child', gw);
    children.push(gateway);
    const before = await upstreamCalls(simChild.url);
    const r = await load(gateway.url, requests, clients);
    const calls = (await upstreamCalls(simChild.url)) - before;
    return {
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
  const requests = num(args.flags, 'requests', args.quick ? 1_000 : 20_000);
  const clients = num(args.flags, 'clients', args.quick ? 16 : 64);
  const sim: EmbedSimOptions = { embedCallMs: num(args.flags, 'call-ms', 10), embedInputMs: num(args.flags, 'input-ms', 0.5) };
  const windowMs = num(args.flags, 'window-ms', 2);
  const results: RunResult[] = [];
  for (const on of [false, true]) results.push(await runOnce(on, requests, clients, sim, windowMs));
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

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
