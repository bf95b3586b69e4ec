/**
 * `pnpm bench:dashboard`: what open dashboards cost the gateway. The demo's simulated pool and its
 * steady traffic (its users and request mix, without the burst, which would land in one phase only)
 * run in this process; the gateway runs alone in a child, whose CPU time is read from /proc. Phases
 * alternate between no dashboard and ten open ones (ten event streams of `/dashboard/events`, each
 * as a page reads it), and each reports the gateway's CPU ms per second, the requests per second it
 * served, and the bytes per second each dashboard received.
 *
 * Flags: `--quick` (one short phase of each, for a smoke run), `--phase S` (seconds a phase
 * measures), `--rounds N` (pairs of phases), `--out FILE` (the results markdown; default
 * `bench/results/dashboard-<date>[-quick].md`).
 */
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimPool } from '@ollama-ring/ollama-sim';
import { demoPoolConfig } from '@ollama-ring/server/dist/demo/pool-source';
import { Workload } from '@ollama-ring/server/dist/demo/workload';
import { parseArgs } from '../common/args';
import { machineInfo } from '../common/machine';
import { revision } from '../common/revision';
import { totalCpuMs } from '../proxy/cpu';
import { startChild } from '../proxy/child';
import type { GatewayChildArgs } from './gateway-child';

const DASHBOARDS = 10;

interface Phase {
  dashboards: number;
  seconds: number;
  cpuMsPerSec: number;
  reqPerSec: number;
  /** Mean over the open dashboards; 0 with none. */
  bytesPerSecPerPage: number;
}

/** One open dashboard: its event stream, and the bytes received on it. */
function openStream(url: string): Promise<{ bytes: () => number; close(): void }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const req = request(`${url}/dashboard/events`, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`/dashboard/events: HTTP ${res.statusCode}`));
      res.on('data', (b: Buffer) => (bytes += b.length));
      res.on('error', () => undefined);
      resolve({ bytes: () => bytes, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(gatewayPid: number, url: string, dashboards: number, seconds: number, served: () => number): Promise<Phase> {
  const streams = await Promise.all(Array.from({ length: dashboards }, () => openStream(url)));
  // Past each stream's first event (the history), so that only the ticks are counted.
  await sleep(2_000);
  const bytes0 = streams.map((s) => s.bytes());
  const cpu0 = totalCpuMs([gatewayPid]);
  const req0 = served();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = totalCpuMs([gatewayPid]);
  const req1 = served();
  const perPage = streams.map((s, i) => (s.bytes() - bytes0[i]) / elapsed);
  for (const s of streams) s.close();
  if (cpu0 === undefined || cpu1 === undefined) throw new Error('the gateway child’s CPU time cannot be read from /proc');
  return {
    dashboards,
    seconds: elapsed,
    cpuMsPerSec: (cpu1 - cpu0) / elapsed,
    reqPerSec: (req1 - req0) / elapsed,
    bytesPerSecPerPage: perPage.length ? perPage.reduce((a, b) => a + b, 0) / perPage.length : 0,
  };
}

function markdown(phases: Phase[], quick: boolean, settings: string): string {
  const m = machineInfo();
  const mean = (n: number, f: (p: Phase) => number) => {
    const ps = phases.filter((p) => p.dashboards === n);
    return ps.reduce((a, p) => a + f(p), 0) / Math.max(1, ps.length);
  };
  const perReq = (p: Phase) => (p.reqPerSec > 0 ? (p.cpuMsPerSec / p.reqPerSec).toFixed(2) : '–');
  const rows = phases.map(
    (p, i) =>
      `| ${i + 1} | ${p.dashboards} | ${p.seconds.toFixed(1)} | ${p.cpuMsPerSec.toFixed(1)} | ${p.reqPerSec.toFixed(1)} | ${perReq(p)} | ${p.dashboards ? Math.round(p.bytesPerSecPerPage) : '–'} |`,
  );
  const added = mean(DASHBOARDS, (p) => p.cpuMsPerSec) - mean(0, (p) => p.cpuMsPerSec);
  return [
    `# bench:dashboard${quick ? ' (--quick: a smoke run, not a measurement)' : ''}`,
    '',
    `${m.date}, ${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.platform}; revision ${revision(['packages', 'bench/src'])}.`,
    '',
    `The gateway (own process, CPU from /proc) under the demo's steady traffic (${settings}), with no dashboard open and with ${DASHBOARDS} (event streams of \`/dashboard/events\`).`,
    '',
    '| phase | dashboards | seconds | gateway CPU ms/s | req/s | CPU ms per request | bytes/s per dashboard |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Mean gateway CPU: ${mean(0, (p) => p.cpuMsPerSec).toFixed(1)} ms/s with none, ${mean(DASHBOARDS, (p) => p.cpuMsPerSec).toFixed(1)} ms/s with ${DASHBOARDS}: ${added.toFixed(1)} ms/s for ${DASHBOARDS} dashboards (${(added / DASHBOARDS).toFixed(2)} ms/s each). Each dashboard received ${Math.round(mean(DASHBOARDS, (p) => p.bytesPerSecPerPage))} bytes/s.`,
    '',
    "The demo's traffic varies from second to second (its users pause between requests, and models load and unload), so a phase's req/s and CPU move with it: compare the phases over several rounds, and CPU per request beside CPU per second.",
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs();
  const quick = args.quick;
  const phaseS = Number(args.flags.get('phase') ?? (quick ? 5 : 30));
  const rounds = Number(args.flags.get('rounds') ?? (quick ? 1 : 3));
  const warmupS = quick ? 3 : 10;
  const users = 6;
  const pool = demoPoolConfig(undefined, 0.3);
  const sim = await startSimPool(pool.config, { log: () => undefined });
  const gwArgs: GatewayChildArgs = { simConfig: pool.config, nodes: sim.nodes.map((n) => ({ id: n.id, url: n.url })) };
  const gateway = await startChild('../dashboard/gateway-child', gwArgs);
  // Long enough for every phase (each also waits 2 s for its streams), then it drains.
  const totalMs = (warmupS + 2 * rounds * (phaseS + 3)) * 1000;
  const workload = new Workload({ url: gateway.url, durationMs: totalMs, users, burstSize: 0, seed: 1, drainMs: 5_000 });
  const running = workload.run();
  const phases: Phase[] = [];
  try {
    await sleep(warmupS * 1000);
    for (let r = 0; r < rounds; r++) {
      for (const n of [0, DASHBOARDS]) {
        const p = await measure(gateway.pid, gateway.url, n, phaseS, () => workload.results.length);
        phases.push(p);
        process.stdout.write(
          `dashboards ${n}: gateway ${p.cpuMsPerSec.toFixed(1)} CPU ms/s, ${p.reqPerSec.toFixed(1)} req/s, ${Math.round(p.bytesPerSecPerPage)} bytes/s per dashboard\n`,
        );
      }
    }
  } finally {
    workload.stop();
    await running;
    await gateway.stop();
    await sim.close();
  }
  const date = new Date().toISOString().slice(0, 10);
  const out = String(args.flags.get('out') ?? join(__dirname, '..', '..', 'results', `dashboard-${date}${quick ? '-quick' : ''}.md`));
  writeFileSync(out, markdown(phases, quick, `${users} users, timeScale 0.3, phases of ${phaseS} s, ${rounds} round${rounds > 1 ? 's' : ''}`));
  process.stdout.write(`wrote ${out}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
