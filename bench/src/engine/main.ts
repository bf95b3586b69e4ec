/**
 * pnpm bench:engine [--quick] [--json FILE] [--strategy lite-blocking] [--spin N] [--batch N] [--runs N]
 *                   [--only NAME] [--scale F]
 *
 * `--scale` multiplies every event count (the test suite runs a tiny scale to check the output).
 *
 * For each LMAX scenario, runs the engine and a MessageChannel baseline of the same topology in the
 * same process, alternately, and reports the median events/s of each; then the latency of a
 * 3-stage pipeline driven at a fixed rate, for both.
 */
import type { WaitStrategyDescriptor, WaitStrategyKind } from '@ollama-ring/disruptor';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { median } from '../common/stats';
import { formatRate, markdownTable } from '../common/table';
import { runBaselineLatency, runBaselineScenario } from './baseline-runs';
import { runDisruptorLatency, runDisruptorScenario } from './disruptor-runs';
import { SCENARIOS, eventsFor, type ScenarioName } from './topology';

const TARGETS: Record<ScenarioName, { eventsPerSec: number; ratio: number }> = {
  'unicast-1p1c': { eventsPerSec: 30e6, ratio: 30 },
  'pipeline-1p3c': { eventsPerSec: 5e6, ratio: 10 },
  'sequencer-3p1c': { eventsPerSec: 5e6, ratio: 10 },
  'multicast-1p3c': { eventsPerSec: 5e6, ratio: 10 },
  'diamond-1p3c': { eventsPerSec: 5e6, ratio: 10 },
};

async function main(): Promise<void> {
  const args = parseArgs();
  const kind = (args.flags.get('strategy') as WaitStrategyKind | undefined) ?? 'lite-blocking';
  const spin = args.flags.get('spin');
  const strategy: WaitStrategyDescriptor = spin === undefined ? { kind } : { kind, spinTries: Number(spin) };
  const batch = Number(args.flags.get('batch') ?? 1);
  const runs = Number(args.flags.get('runs') ?? (args.quick ? 3 : 5));
  const only = args.flags.get('only');
  const scale = Number(args.flags.get('scale') ?? 1);
  const scenarios = SCENARIOS.filter((s) => !only || s === only);
  const machine = machineInfo();
  console.log(`bench:engine ${args.quick ? '(quick) ' : ''}strategy=${kind} spin=${spin ?? 'default'} batch=${batch} runs=${runs}`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}\n`);

  const results: { name: string; eventsPerSec: number; baselineEventsPerSec: number; runs: number[]; baselineRuns: number[] }[] = [];
  for (const name of scenarios) {
    const ours: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < runs; r++) {
      ours.push(await runDisruptorScenario(name, eventsFor(name, args.quick, false, scale), strategy, batch));
      base.push(await runBaselineScenario(name, eventsFor(name, args.quick, true, scale)));
    }
    const row = { name, eventsPerSec: median(ours), baselineEventsPerSec: median(base), runs: ours, baselineRuns: base };
    results.push(row);
    console.log(`${name}: ${formatRate(row.eventsPerSec)}/s vs baseline ${formatRate(row.baselineEventsPerSec)}/s`);
  }

  const latencyEvents = Math.max(100, Math.round((args.quick ? 20_000 : 100_000) * scale));
  const lat = await runDisruptorLatency(latencyEvents, 10_000, strategy);
  const baseLat = await runBaselineLatency(latencyEvents, 10_000);
  const latency = {
    p50Us: lat.p50Ns / 1e3,
    p99Us: lat.p99Ns / 1e3,
    p999Us: lat.p999Ns / 1e3,
    baselineP50Us: baseLat.p50Ns / 1e3,
    baselineP99Us: baseLat.p99Ns / 1e3,
  };

  const rows = results.map((r) => {
    const t = TARGETS[r.name as ScenarioName];
    const ratio = r.eventsPerSec / r.baselineEventsPerSec;
    const ok = r.eventsPerSec >= t.eventsPerSec && ratio >= t.ratio;
    return [
      r.name,
      `${formatRate(r.eventsPerSec)}/s`,
      `${formatRate(r.baselineEventsPerSec)}/s`,
      `${ratio.toFixed(1)}×`,
      `${formatRate(t.eventsPerSec)}/s, ${t.ratio}×`,
      ok ? 'met' : 'missed',
    ];
  });
  console.log(`\n${markdownTable(['scenario', 'engine', 'MessageChannel', 'ratio', 'target', ''], rows)}\n`);
  console.log(
    markdownTable(
      ['3-stage latency at 10k ev/s', 'p50', 'p99', 'p99.9'],
      [
        ['engine', `${latency.p50Us.toFixed(1)} µs`, `${latency.p99Us.toFixed(1)} µs`, `${latency.p999Us.toFixed(1)} µs`],
        ['MessageChannel', `${latency.baselineP50Us.toFixed(1)} µs`, `${latency.baselineP99Us.toFixed(1)} µs`, `${(baseLat.p999Ns / 1e3).toFixed(1)} µs`],
        ['target (engine)', '≤ 20 µs', '≤ 100 µs', ''],
      ],
    ),
  );

  if (args.json) {
    const path = writeJson(args.json, {
      machine,
      command: `pnpm bench:engine ${process.argv.slice(2).join(' ')}`.trim(),
      strategy,
      batch,
      scenarios: results.map(({ name, eventsPerSec, baselineEventsPerSec }) => ({ name, eventsPerSec, baselineEventsPerSec })),
      latency,
    });
    console.log(`\nwrote ${path}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
