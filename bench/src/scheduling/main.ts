/**
 * pnpm bench:scheduling [--quick] [--json FILE] [--md FILE] [--strategies a,b] [--scale F] [--time-scale X]
 *                       [--seed N] [--discovery-ms MS] [--steady-load F] [--burst-load F]
 *
 * Replays one seeded trace (Zipf model popularity, Poisson arrivals at 80% of the pool's capacity,
 * then a burst at 150%, half of it streamed) against a heterogeneous simulated pool, once per
 * strategy, each on a fresh pool and a fresh balancer. Reports throughput (overall and in the
 * burst), TTFT, latency, cold loads and per-node utilization, all in unscaled time; and, next to
 * seed 002's targets, each node's utilization in the burst and the balancer's load imbalance.
 *
 * `--scale` multiplies the trace's length (the test runs a tiny one); `--time-scale` is the sim's
 * (default 0.1: one simulated second takes 100 ms); `--discovery-ms` is the balancer's
 * /api/ps polling interval in unscaled ms (default: its default, 30 s); `--steady-load` and
 * `--burst-load` change the arrival rates (fractions of capacity, default 0.8 and 1.5) for diagnosis.
 */
import { StrategyFactory } from '@ollama-ring/balancer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { revision } from '../common/revision';
import { median } from '../common/stats';
import { NODES, simPoolConfig } from './pool';
import { checkTargets, diagnosticsTable, markdownReport, resultsTable, seedTargetsTable, selfCheckTable, targetsTable } from './report';
import { hotReference } from './reference';
import { runStrategy } from './run';
import { summarise, type StrategyResult } from './summary';
import { WORKLOAD, buildTrace, meanOutputTokens, meanPromptTokens, modelPopularity } from './trace';

/**
 * Why 0.1: the smallest scale at which the pool is as fast as the trace's capacity estimate assumes,
 * also when other jobs share the machine. Every request pays a few ms of wall time that does not
 * shrink with the scale (HTTP to the sim, the balancer's ring hand-offs, dispatch and completion,
 * timer granularity); at 0.02 a 5 ms overhead is 250 unscaled ms per request. Measured on this
 * 2-core machine (the self-check table, hot slot time ÷ nominal; least-in-flight and predictive):
 * quiet, 1.09–1.11 at 0.02, 1.02–1.03 at 0.05, 1.01 at 0.1; under other jobs (load average 4–5),
 * 1.25–1.48 at 0.02, 1.06–1.07 at 0.05, 1.01–1.04 at 0.1. At 0.02 the "80 %" phase was really
 * 88–124 % of what the pool delivered. The sim alone is within 1–3 % even at 0.02
 * (`node bench/dist/scheduling/fidelity.js`). One strategy's replay takes 22–26 s of wall time.
 * Loads are learned too: the shortest (3 s) is 300 ms of wall time, far above the balancer's 50 ms
 * "real load" threshold.
 */
const DEFAULT_TIME_SCALE = 0.1;
const FULL = { steadyMs: 120_000, burstMs: 40_000 };
const QUICK = { steadyMs: 45_000, burstMs: 15_000 };

function num(v: string | true | undefined, d: number): number {
  if (typeof v !== 'string') return d;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const timeScale = num(args.flags.get('time-scale'), DEFAULT_TIME_SCALE);
  const scale = num(args.flags.get('scale'), 1);
  const seed = num(args.flags.get('seed'), 20261122);
  const discovery = args.flags.get('discovery-ms');
  const discoveryMs = discovery === undefined ? undefined : num(discovery, 30_000);
  const only = args.flags.get('strategies');
  const strategies =
    typeof only === 'string'
      ? only
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : StrategyFactory.names();
  for (const s of strategies) if (StrategyFactory.resolve(s) === undefined) throw new Error(`unknown strategy '${s}'`);
  const phases = args.quick ? QUICK : FULL;
  const loads = { steady: num(args.flags.get('steady-load'), WORKLOAD.steadyLoad), burst: num(args.flags.get('burst-load'), WORKLOAD.burstLoad) };
  const trace = buildTrace(seed, Math.round(phases.steadyMs * scale), Math.round(phases.burstMs * scale), loads);
  const machine = machineInfo();
  const streamed = trace.requests.filter((r) => r.stream).length;

  console.log(`bench:scheduling ${args.quick ? '(quick) ' : ''}seed=${seed} timeScale=${timeScale} strategies=${strategies.join(',')}`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
  console.log(
    `trace: ${trace.requests.length} requests (${streamed} streamed), capacity ≈ ${trace.capacity.rps.toFixed(2)} req/s; ` +
      `${(trace.steadyMs / 1000).toFixed(0)} s at ${trace.steadyRps.toFixed(2)} req/s, then ${(trace.burstMs / 1000).toFixed(0)} s at ${trace.burstRps.toFixed(2)} req/s (unscaled)\n`,
  );

  const results: StrategyResult[] = [];
  for (const name of strategies) {
    const t0 = Date.now();
    const run = await runStrategy(name, trace, { timeScale, discoveryMs });
    const r = summarise(run, trace);
    results.push(r);
    console.log(
      `${name.padEnd(21)} ${((Date.now() - t0) / 1000).toFixed(1)} s wall: ${r.completed} ok, ${r.failed} failed, ` +
        `burst ${r.burstThroughputRps.toFixed(2)} req/s, TTFT p99 ${r.ttftP99Ms.toFixed(0)} ms, ${r.coldLoads} cold loads`,
    );
  }

  const nodeIds = NODES.map((n) => n.id);
  console.log(`\n${resultsTable(results, nodeIds)}\n`);
  console.log(`${seedTargetsTable(results, nodeIds)}\n`);
  console.log(`${diagnosticsTable(results)}\n`);
  const selfCheck = selfCheckTable(results, nodeIds, { estimateRps: trace.capacity.rps, steadyRps: trace.steadyRps, burstRps: trace.burstRps });
  console.log(`${selfCheck}\n`);
  // The optimistic reference (reference.ts), at the speed the pool really had in these runs.
  const slowdown = median(results.map((r) => r.hotSlotRatio).filter(Number.isFinite));
  const reference = { slowdown: Number.isFinite(slowdown) ? slowdown : 1, ...hotReference(trace, Number.isFinite(slowdown) ? slowdown : 1) };
  const referenceLine =
    `Reference, no strategy can reach it (every model hot on every node that has it, no loads, exact service times, each request on the slot where it finishes first; ` +
    `service at ${reference.slowdown.toFixed(2)}× nominal, the median hot slot time ÷ nominal above): ` +
    `TTFT p50 ${reference.ttftP50Ms} ms, p99 ${reference.ttftP99Ms} ms, burst ${reference.burstThroughputRps.toFixed(2)} req/s.`;
  console.log(`${referenceLine}\n`);
  const checks = checkTargets(results);
  if (checks) console.log(`${targetsTable(checks)}\n`);

  const rev = revision(['packages/balancer/src', 'packages/ollama-sim/src']);
  const command = `pnpm bench:scheduling ${process.argv.slice(2).join(' ')}`.trim();
  const md = args.flags.get('md');
  if (typeof md === 'string') {
    const scenario =
      `seed ${seed}, timeScale ${timeScale}, ${trace.requests.length} requests (${streamed} streamed); capacity estimate ` +
      `${trace.capacity.rps.toFixed(2)} req/s; ${(trace.steadyMs / 1000).toFixed(0)} s at ${trace.steadyRps.toFixed(2)} req/s (${loads.steady * 100}%), ` +
      `then ${(trace.burstMs / 1000).toFixed(0)} s at ${trace.burstRps.toFixed(2)} req/s (${loads.burst * 100}%); discovery every ${((discoveryMs ?? 30_000) / 1000).toFixed(0)} s`;
    const text = markdownReport(
      {
        date: machine.date.slice(0, 10),
        revision: rev,
        machine: `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}`,
        command,
        scenario,
      },
      results,
      nodeIds,
      checks,
      `${selfCheck}\n\n${referenceLine}`,
    );
    const path = resolve(process.env.INIT_CWD ?? process.cwd(), md);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }

  if (args.json) {
    const path = writeJson(args.json, {
      scenario: {
        name: 'zipf-poisson-burst',
        seed,
        timeScale,
        requests: trace.requests.length,
        streamed,
        steadyMs: trace.steadyMs,
        burstMs: trace.burstMs,
        capacityRps: trace.capacity.rps,
        capacityByNode: trace.capacity.byNode,
        steadyLoad: loads.steady,
        burstLoad: loads.burst,
        steadyRps: trace.steadyRps,
        burstRps: trace.burstRps,
        modelPopularity: modelPopularity(),
        meanPromptTokens: meanPromptTokens(),
        meanOutputTokens: meanOutputTokens(),
        workload: WORKLOAD,
        discoveryMs: discoveryMs ?? 30_000,
        pool: simPoolConfig(1),
      },
      machine,
      revision: rev,
      command,
      strategies: results,
      reference,
      targets: checks ?? null,
    });
    console.log(`\nwrote ${path}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
