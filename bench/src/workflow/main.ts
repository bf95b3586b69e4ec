/**
 * pnpm bench:workflow [--quick] [--tasks 200] [--rounds 3] [--time-scale 0.1] [--seed N]
 *                     [--md FILE] [--json FILE] [--max-other-pct 25] [--retries 2]
 *
 * The workflow issue's benchmark: a generated graph of `--tasks` generate tasks (mixed models,
 * fan-out, fan-in, uneven lengths; graph.ts) on an emulated pool of three nodes (pool.ts), run by
 * `WorkflowRunner` and by a wave-by-wave reference executor (executors.ts), in `--rounds` rounds
 * (which goes first alternates); the figures are medians over the rounds. Printed with the
 * critical-path lower bound given the pool's capacity, and each node's utilisation. Durations are
 * reported unscaled (`--time-scale` 0.1: one simulated second takes 100 ms of wall time).
 * Targets: makespan ≤ 0.7 × the waves', and ≤ 1.3 × the lower bound. `--md` (default
 * bench/results/workflow-<date>.md, none with --quick) writes the report.
 * `--quick` runs 40 tasks once: it proves the harness works, it is not a result.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PipelineFactory } from '@ollama-ring/balancer';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { revision } from '../common/revision';
import { median } from '../common/stats';
import { markdownTable } from '../common/table';
import { cpuWindow, type Quiet, quietly } from '../batch/load';
import { startSimProcess } from '../scheduling/sim-process';
import { type Execution, runOurs, runWaves } from './executors';
import { generateGraph, levels, lowerBound, MODELS } from './graph';
import { poolConfig, serviceMs, simConfig, SLOTS, TOTAL_SLOTS } from './pool';

interface Round {
  ours: Execution;
  waves: Execution;
  otherPct?: number;
  attempts?: number;
}

function num(flags: Map<string, string | true>, name: string, dflt: number): number {
  const v = flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new Error(`--${name} needs a number`);
  return n;
}

async function round(tasks: ReturnType<typeof generateGraph>, timeScale: number, oursFirst: boolean): Promise<Round> {
  const sim = await startSimProcess(simConfig(timeScale));
  let factory: Awaited<ReturnType<ReturnType<typeof PipelineFactory.fromConfig>['start']>> | undefined;
  try {
    const f = await PipelineFactory.fromConfig(poolConfig(sim.nodes, timeScale)).start();
    factory = f;
    const other = cpuWindow([sim.pid]);
    // Warm-up: a short graph, so that the estimates start from the pool's own timings.
    await runOurs(f, generateGraph(2 * TOTAL_SLOTS, 1));
    const a = oursFirst ? await runOurs(f, tasks) : await runWaves(f, tasks);
    const b = oursFirst ? await runWaves(f, tasks) : await runOurs(f, tasks);
    const otherPct = other();
    return { ours: oursFirst ? a : b, waves: oursFirst ? b : a, ...(otherPct !== undefined && { otherPct }) };
  } finally {
    await factory?.stop(1_000);
    await sim.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs();
  const q = args.quick;
  const n = Math.round(num(args.flags, 'tasks', q ? 40 : 200));
  const rounds = Math.max(1, Math.round(num(args.flags, 'rounds', q ? 1 : 3)));
  const timeScale = num(args.flags, 'time-scale', 0.1);
  const seed = num(args.flags, 'seed', 20261205);
  const quiet: Quiet = { maxOtherPct: num(args.flags, 'max-other-pct', 25), retries: Math.round(num(args.flags, 'retries', q ? 0 : 2)) };
  const tasks = generateGraph(n, seed);
  const lb = lowerBound(tasks, serviceMs, TOTAL_SLOTS);
  const depth = Math.max(...levels(tasks).values()) + 1;
  const edges = tasks.reduce((s, t) => s + t.deps.length, 0);
  const machine = machineInfo();
  console.log(`bench:workflow ${q ? '(quick: proves the harness, not a result) ' : ''}${n} tasks, ${rounds} round(s), timeScale ${timeScale}`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `graph: ${n} tasks, ${edges} edges, ${depth} levels; pool ${Object.entries(SLOTS)
      .map(([id, k]) => `${id}×${k}`)
      .join(', ')} (${TOTAL_SLOTS} slots)`,
  );
  console.log(`lower bound ${s(lb.boundMs)}: critical path ${s(lb.criticalPathMs)}, work ÷ slots ${s(lb.workMs)} (unscaled)\n`);

  const done: Round[] = [];
  for (let r = 1; r <= rounds; r++) {
    const x = await quietly(`round ${r}`, quiet, () => round(tasks, timeScale, r % 2 === 1));
    done.push(x);
    console.log(
      `round ${r}: ours ${s(x.ours.makespanMs / timeScale)}, waves ${s(x.waves.makespanMs / timeScale)}${x.ours.failed + x.waves.failed > 0 ? ` (failed: ${x.ours.failed} / ${x.waves.failed})` : ''}`,
    );
  }
  const med = (pick: (r: Round) => number) => median(done.map(pick));
  const ours = med((r) => r.ours.makespanMs) / timeScale;
  const waves = med((r) => r.waves.makespanMs) / timeScale;
  const table = markdownTable(
    ['executor', 'makespan (median)', '÷ waves', '÷ lower bound', ...Object.keys(SLOTS).map((id) => `${id} busy`), 'failed'],
    (['ours', 'waves'] as const).map((k) => {
      const m = k === 'ours' ? ours : waves;
      return [
        k === 'ours' ? 'WorkflowRunner' : 'wave by wave',
        s(m),
        `${(m / waves).toFixed(2)}×`,
        `${(m / lb.boundMs).toFixed(2)}×`,
        ...Object.keys(SLOTS).map((id) => `${(med((r) => r[k].utilization[id] ?? NaN) * 100).toFixed(1)} %`),
        String(med((r) => r[k].failed)),
      ];
    }),
  );
  const targets = [
    { name: 'makespan ÷ wave-by-wave', goal: '≤ 0.70', measured: ours / waves, met: ours / waves <= 0.7 },
    { name: 'makespan ÷ lower bound', goal: '≤ 1.30', measured: ours / lb.boundMs, met: ours / lb.boundMs <= 1.3 },
  ];
  const targetTable = markdownTable(
    ['target', 'goal', 'measured', 'met'],
    targets.map((t) => [t.name, t.goal, t.measured.toFixed(2), t.met ? 'yes' : 'no']),
  );
  const about =
    `${n} generate tasks (models ${MODELS.join(', ')}; 70 % of answers 8–32 tokens, 25 % 48–128, 5 % 200–400; hubs every 25 tasks that the next ten wait on, ` +
    `one task in ten gathering 4–8 earlier ones), ${edges} edges, ${depth} levels, seed ${seed}. Pool: ${TOTAL_SLOTS} slots over ${Object.keys(SLOTS).length} emulated nodes, 25 tokens/s a request. ` +
    `Lower bound: max(critical path ${s(lb.criticalPathMs)}, work ÷ slots ${s(lb.workMs)}) = ${s(lb.boundMs)}. Durations unscaled; medians of ${rounds} round(s).`;
  console.log(`\n${about}\n\n${table}\n\n## Targets${q ? ' (--quick: not a result)' : ''}\n\n${targetTable}\n`);

  const rev = revision(['packages', 'bench/src']);
  const command = `pnpm bench:workflow ${process.argv.slice(2).join(' ')}`.trim();
  const mdFlag = args.flags.get('md');
  const md = typeof mdFlag === 'string' ? mdFlag : q ? undefined : `bench/results/workflow-${machine.date.slice(0, 10)}.md`;
  if (md !== undefined) {
    const path = resolve(process.env.INIT_CWD ?? process.cwd(), md);
    mkdirSync(dirname(path), { recursive: true });
    const header = [
      `# bench:workflow${q ? ' (quick: not a result)' : ''}`,
      '',
      `- date: ${machine.date.slice(0, 10)}`,
      `- revision: ${rev}`,
      `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}`,
      `- command: \`${command}\``,
    ].join('\n');
    writeFileSync(path, `${header}\n\n${about}\n\n${table}\n\n## Targets\n\n${targetTable}\n`);
    console.log(`wrote ${path}`);
  }
  if (args.json) console.log(`wrote ${writeJson(args.json, { machine, revision: rev, command, quick: q, timeScale, seed, tasks: n, lowerBound: lb, rounds: done, targets })}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
