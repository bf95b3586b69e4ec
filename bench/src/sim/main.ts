/**
 * pnpm bench:sim [--quick] [--json FILE] [--streams 500] [--nodes 5] [--tps 50] [--tokens N]
 *                [--ramp-ms 1000] [--timer shared|per-task] [--client raw|undici] [--sim-node-flags "..."]
 *
 * Can one process of simulated Ollama nodes keep 500 concurrent token streams on schedule? The pool
 * runs in a child process; this process drives the streams with undici and times every token line.
 * Reports achieved tokens/s against nominal and the p99 error of inter-token gaps against 1/tps.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { markdownTable } from '../common/table';
import { analyse } from './analyse';
import { startMachineLoad } from './machine-load';
import { runLoad } from './load';
import { runRawLoad } from './raw-load';
import type { ChildMessage, ParentMessage, SimChildOptions } from './protocol';

const TARGET_GAP_ERROR_P99 = 0.2;
const TARGET_RATE_RATIO = 0.98;

function num(v: string | true | undefined, d: number): number {
  return typeof v === 'string' ? Number(v) : d;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const streams = num(args.flags.get('streams'), 500);
  const nodes = num(args.flags.get('nodes'), 5);
  const tps = num(args.flags.get('tps'), 50);
  const tokens = num(args.flags.get('tokens'), args.quick ? 150 : 750);
  const rampMs = num(args.flags.get('ramp-ms'), 1000);
  const timer = args.flags.get('timer') === 'per-task' ? 'per-task' : 'shared';
  const clientKind = args.flags.get('client') === 'undici' ? 'undici' : 'raw';
  const machine = machineInfo();
  console.log(
    `bench:sim ${args.quick ? '(quick) ' : ''}${streams} streams over ${nodes} nodes, ${tps} tok/s each, ${tokens} tokens, ramp ${rampMs} ms, timer=${timer}, client=${clientKind}`,
  );
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}\n`);

  const childOpts: SimChildOptions = { nodes, streamsPerNode: Math.ceil(streams / nodes), tokensPerSec: tps, tokens, timer };
  const simFlags = typeof args.flags.get('sim-node-flags') === 'string' ? String(args.flags.get('sim-node-flags')).split(' ').filter(Boolean) : [];
  const child = fork(join(__dirname, 'sim-child.js'), [JSON.stringify(childOpts)], { stdio: 'inherit', execArgv: simFlags });
  const messages: ChildMessage[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: ChildMessage) => {
    messages.push(m);
    wake?.();
  });
  const next = async <T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>> => {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type);
      if (i >= 0) return messages.splice(i, 1)[0] as Extract<ChildMessage, { type: T }>;
      if (child.exitCode !== null) throw new Error(`sim process exited with ${child.exitCode}`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  const toChild = (m: ParentMessage): void => {
    child.send(m);
  };
  child.once('exit', () => wake?.());

  try {
    const { urls } = await next('ready');
    toChild({ type: 'measure-start' });
    const machineLoad = startMachineLoad();
    const cpu0 = process.cpuUsage();
    const load = await (clientKind === 'raw' ? runRawLoad : runLoad)({ urls, streams, tokens, rampMs });
    // The steady window (every stream started, none finished), in epoch ms for the sim process.
    let from = -Infinity;
    let to = Infinity;
    for (const r of load.results) {
      if (r.error || r.count < 2) continue;
      from = Math.max(from, r.arrivals[0]);
      to = Math.min(to, r.arrivals[Math.min(r.count, r.arrivals.length) - 1]);
    }
    toChild({ type: 'stop', windowFromEpochMs: performance.timeOrigin + from, windowToEpochMs: performance.timeOrigin + to });
    const sim = await next('stats');
    const ownCpu = process.cpuUsage(cpu0);
    const busy = machineLoad.stop(sim.cpuSeconds + (ownCpu.user + ownCpu.system) / 1e6);
    const f = analyse(load.results, tps);
    const pass = f.failedStreams === 0 && f.gapErrorP99 <= TARGET_GAP_ERROR_P99 && f.achievedTokensPerSec >= TARGET_RATE_RATIO * f.nominalTokensPerSec;
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    console.log(
      markdownTable(
        ['figure', 'value', 'target'],
        [
          ['tokens/s achieved (steady window)', f.achievedTokensPerSec.toFixed(0), `≥ ${(TARGET_RATE_RATIO * f.nominalTokensPerSec).toFixed(0)}`],
          ['tokens/s nominal', f.nominalTokensPerSec, ''],
          ['steady window', `${f.steadyWindowSeconds.toFixed(1)} s`, ''],
          [
            'sim-side emission gap error p50 / p99 / p99.9 (steady)',
            `${pct(sim.emission.p50)} / ${pct(sim.emission.p99)} / ${pct(sim.emission.p999)}`,
            `p99 ≤ ${pct(TARGET_GAP_ERROR_P99)}`,
          ],
          ['gap error p50 (steady window)', pct(f.gapErrorP50), ''],
          ['gap error p99 (steady window)', pct(f.gapErrorP99), `≤ ${pct(TARGET_GAP_ERROR_P99)}`],
          ['gap error p99.9 (steady window)', pct(f.gapErrorP999), ''],
          ['gap p99 / max (steady window)', `${f.gapP99Ms.toFixed(1)} / ${f.gapMaxMs.toFixed(1)} ms (nominal ${(1000 / tps).toFixed(1)})`, ''],
          ['gap error p50 / p99 / p99.9 (whole run, ramp included)', `${pct(f.allGapErrorP50)} / ${pct(f.allGapErrorP99)} / ${pct(f.allGapErrorP999)}`, ''],
          ['worst schedule overrun', `${f.worstScheduleOverrunMs.toFixed(1)} ms`, ''],
          ['reported tok/s per stream (mean / min)', `${f.reportedTokensPerSecMean.toFixed(2)} / ${f.reportedTokensPerSecMin.toFixed(2)}`, `${tps}`],
          ['failed streams', f.failedStreams, '0'],
          ['sim process CPU', `${((sim.cpuSeconds / sim.wallSeconds) * 100).toFixed(0)}% of one core`, ''],
          ['load generator CPU', `${(((ownCpu.user + ownCpu.system) / 1e6 / sim.wallSeconds) * 100).toFixed(0)}% of one core`, ''],
          ['other processes on the machine', busy ? `${busy.otherCores.toFixed(2)} of ${busy.cores} cores busy` : 'unknown', 'quiet machine'],
          ['sim event-loop delay p50 / p99 / max', `${sim.loopDelayP50Ms.toFixed(1)} / ${sim.loopDelayP99Ms.toFixed(1)} / ${sim.loopDelayMaxMs.toFixed(1)} ms`, ''],
        ],
      ),
    );
    console.log(`\n${pass ? 'PASS' : 'FAIL'}: ${pass ? 'meets' : 'misses'} the targets (steady-window p99 gap error ≤ 20%, ≥ 98% of nominal tokens/s, no failed streams)`);
    const failures = load.results.filter((r) => r.error).slice(0, 3);
    for (const r of failures) console.log(`  stream error: ${r.error}`);
    if (args.json) {
      const path = writeJson(args.json, {
        bench: 'sim',
        machine,
        params: { streams, nodes, tokensPerSec: tps, tokens, rampMs, timer, client: clientKind, simNodeFlags: simFlags, driverNodeFlags: process.execArgv, quick: args.quick },
        figures: f,
        simProcess: sim,
        loadGeneratorCpuSeconds: (ownCpu.user + ownCpu.system) / 1e6,
        machineLoad: busy,
        targets: { gapErrorP99: TARGET_GAP_ERROR_P99, rateRatio: TARGET_RATE_RATIO },
        pass,
      });
      console.log(`wrote ${path}`);
    }
    process.exitCode = pass ? 0 : 1;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 2;
});
