/**
 * pnpm bench:replicas [--quick] [--rounds N] [--json FILE] [--md FILE] [--time-scale X] [--seed N] [--outage-ms MS] [--outage-wall-ms MS]
 *                     [--only KIND,…] [--timeline FILE]
 *
 * Three gateway replicas behind a round-robin client against the emulated pool and the trace of
 * `bench:scheduling`, compared in one run with a single gateway and with three replicas on the
 * `memory` backend (each believing it owns every slot). Then, with `redis`: one replica SIGKILLed at
 * 40 % of the run (the client sends a request whose connection dropped before its first byte to the
 * next replica), and Redis stopped at 30 % for `--outage-ms` of trace time (default 10 s, the
 * issue's; 1 s of wall time at scale 0.1, as every duration of the trace is scaled), and again, as a
 * stress figure and not a target, for `--outage-wall-ms` of wall time (default 10 s; 2 s with
 * --quick: ten times longer against the trace). The lease TTL is the default's, scaled too.
 * Medians over `--rounds` (default 3; 1 with --quick). Reports, per scenario: requests failed, the
 * most requests any node had at once (from the emulator) against its slots, makespan and TTFT p99
 * (unscaled) and their ratio to the single gateway's, whether in-flight counts returned to zero, and
 * how long the killed replica's leases stayed in Redis. `--only` runs the named scenarios and prints
 * their rounds, without the table; `--timeline` appends what each replica saw through each run, every
 * 100 ms, to FILE (`timeline.ts`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { startRedis } from '../common/redis-server';
import { exitOnSignals } from '../common/children';
import { median } from '../common/stats';
import { markdownTable } from '../common/table';
import { defaultConfig } from '@ollama-ring/balancer';
import { buildTrace } from '../scheduling/trace';
import { runScenario, type ScenarioKind, type ScenarioResult } from './scenario';

const KINDS: readonly ScenarioKind[] = ['single', 'memory-3', 'redis-3', 'redis-3-kill', 'redis-3-outage', 'redis-3-outage-wall'];
/** The scheduling bench's phases (unscaled ms), and its quick ones. */
const FULL = { steadyMs: 120_000, burstMs: 40_000 };
const QUICK = { steadyMs: 45_000, burstMs: 15_000 };
/** The bound on makespan and TTFT p99 with redis, relative to one gateway. */
const MAX_RATIO = 1.15;
/**
 * The lease TTL: the default (15 s) in trace time, like every other duration of the balancer's config
 * the bench scales (`balancerConfig`), but at least the 1 s the config allows. A TTL left at its wall
 * value would hold a killed replica's slots ten times longer, against the trace, than a real pool would.
 */
function leaseTtlMs(timeScale: number): number {
  return Math.max(1_000, Math.round(defaultConfig().state.redis.leaseTtlMs * timeScale));
}

function num(v: string | true | undefined, d: number): number {
  if (typeof v !== 'string') return d;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
}

/** The median round of one scenario (by makespan), with the worst of each safety figure over all rounds. */
function combine(rounds: readonly ScenarioResult[]): ScenarioResult {
  const m = median(rounds.map((r) => r.makespanMs));
  const mid = rounds.reduce((a, b) => (Math.abs(b.makespanMs - m) < Math.abs(a.makespanMs - m) ? b : a));
  const peaks = Object.fromEntries(Object.entries(mid.peaks).map(([id, p]) => [id, { slots: p.slots, peak: Math.max(...rounds.map((r) => r.peaks[id]?.peak ?? 0)) }]));
  const reclaimed = rounds.map((r) => r.reclaimedAfterMs).filter((x): x is number => x !== undefined);
  return {
    ...mid,
    makespanMs: m,
    ttftP99Ms: median(rounds.map((r) => r.ttftP99Ms)),
    failed: Math.max(...rounds.map((r) => r.failed)),
    failedUnstarted: Math.max(...rounds.map((r) => r.failedUnstarted)),
    loads: median(rounds.map((r) => r.loads)),
    peaks,
    idleAfter: rounds.every((r) => r.idleAfter),
    reclaimedAfterMs: reclaimed.length ? Math.max(...reclaimed) : undefined,
  };
}

function over(r: ScenarioResult): string {
  const worst = Object.entries(r.peaks).map(([id, p]) => ({ id, ...p, by: p.peak - p.slots }));
  const bad = worst.filter((w) => w.by > 0);
  return bad.length === 0 ? 'none' : bad.map((w) => `${w.id} ${w.peak}/${w.slots}`).join(', ');
}

async function main(): Promise<void> {
  exitOnSignals();
  const args = parseArgs();
  const timeScale = num(args.flags.get('time-scale'), 0.1);
  const seed = num(args.flags.get('seed'), 20261122);
  const rounds = num(args.flags.get('rounds'), args.quick ? 1 : 3);
  const outageMs = num(args.flags.get('outage-ms'), 10_000);
  const outageWallMs = num(args.flags.get('outage-wall-ms'), args.quick ? 2_000 : 10_000);
  const ttl = leaseTtlMs(timeScale);
  const phases = args.quick ? QUICK : FULL;
  const only = args.flags.get('only');
  const kinds = typeof only === 'string' ? only.split(',').map((k) => k.trim() as ScenarioKind) : KINDS;
  for (const k of kinds) if (!KINDS.includes(k)) throw new Error(`no scenario ${k}: ${KINDS.join(', ')}`);
  const timeline = args.flags.get('timeline');
  const trace = buildTrace(seed, phases.steadyMs, phases.burstMs);
  const machine = machineInfo();
  console.log(
    `bench:replicas ${args.quick ? '(quick) ' : ''}seed=${seed} timeScale=${timeScale} rounds=${rounds} outage=${outageMs} ms (trace time), ${outageWallMs} ms (wall), lease TTL ${ttl} ms`,
  );
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; trace: ${trace.requests.length} requests\n`);
  const redis = await startRedis();
  const all = new Map<ScenarioKind, ScenarioResult[]>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const kind of kinds) {
        const t0 = Date.now();
        const r = await runScenario(kind, trace, { timeScale, redis, outageMs, outageWallMs, leaseTtlMs: ttl, timeline: typeof timeline === 'string' ? timeline : undefined });
        all.set(kind, [...(all.get(kind) ?? []), r]);
        console.log(
          `round ${round + 1} ${kind.padEnd(15)} ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.failed} failed (${r.failedUnstarted} never started), ${r.retried} retried, ${r.loads} loads, ` +
            `over slots: ${over(r)}, makespan ${(r.makespanMs / 1000).toFixed(1)} s, TTFT p99 ${r.ttftP99Ms.toFixed(0)} ms` +
            (r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''),
        );
      }
    }
  } finally {
    await redis.stop();
  }
  if (kinds !== KINDS) return;
  const results = KINDS.map((k) => combine(all.get(k)!));
  const single = results[0];
  const rows = results.map((r) => [
    r.kind,
    r.requests,
    r.failed,
    r.failedUnstarted,
    r.retried,
    r.loads,
    over(r),
    (r.makespanMs / 1000).toFixed(1),
    (r.makespanMs / single.makespanMs).toFixed(2),
    r.ttftP99Ms.toFixed(0),
    (r.ttftP99Ms / single.ttftP99Ms).toFixed(2),
    r.idleAfter ? 'yes' : 'no',
    r.reclaimedAfterMs === undefined ? '' : `${(r.reclaimedAfterMs / 1000).toFixed(1)} s`,
  ]);
  const table = markdownTable(
    [
      'scenario',
      'requests',
      'failed',
      'of them never started',
      'retried',
      'model loads',
      'nodes over their slots (peak/slots)',
      'makespan s',
      '× single',
      'TTFT p99 ms',
      '× single',
      'in-flight back to 0',
      "killed replica's leases gone after",
    ],
    rows,
  );
  // The same figure's ratio round by round (the rounds run each scenario in turn, so a round's
  // scenarios share the machine's state of the moment), and its range over the rounds, in seconds.
  const perRound = (kind: ScenarioKind, f: (r: ScenarioResult) => number): string =>
    all
      .get(kind)!
      .map((r, i) => (f(r) / f(all.get('single')![i])).toFixed(2))
      .join(', ');
  const spread = (kind: ScenarioKind, f: (r: ScenarioResult) => number): string => {
    const v = all.get(kind)!.map(f);
    return `${(Math.min(...v) / 1000).toFixed(1)}–${(Math.max(...v) / 1000).toFixed(1)} s`;
  };
  const redis3 = results.find((r) => r.kind === 'redis-3')!;
  const kill = results.find((r) => r.kind === 'redis-3-kill')!;
  const outage = results.find((r) => r.kind === 'redis-3-outage')!;
  const outageWall = results.find((r) => r.kind === 'redis-3-outage-wall')!;
  const targets = markdownTable(
    ['target', 'measured', 'met'],
    [
      ['no node over its slots with redis', over(redis3), over(redis3) === 'none' ? 'yes' : 'no'],
      [`makespan with redis ≤ ${MAX_RATIO}× single`, `${(redis3.makespanMs / single.makespanMs).toFixed(2)}×`, redis3.makespanMs <= MAX_RATIO * single.makespanMs ? 'yes' : 'no'],
      [
        `TTFT p99 with redis ≤ ${MAX_RATIO}× single`,
        `${(redis3.ttftP99Ms / single.ttftP99Ms).toFixed(2)}× (each round's ÷ the same round's single: ${perRound('redis-3', (r) => r.ttftP99Ms)}; single's own p99 ${spread('single', (r) => r.ttftP99Ms)})`,
        redis3.ttftP99Ms <= MAX_RATIO * single.ttftP99Ms ? 'yes' : 'no',
      ],
      [
        `killed replica's leases reclaimed within the TTL (${ttl / 1000} s wall, swept every ${(ttl / 3000).toFixed(1)} s)`,
        kill.reclaimedAfterMs === undefined ? 'not measured' : `${(kill.reclaimedAfterMs / 1000).toFixed(1)} s`,
        kill.reclaimedAfterMs !== undefined && kill.reclaimedAfterMs <= (ttl * 4) / 3 + 500 ? 'yes' : 'no',
      ],
      [
        'replica killed: no failed request that had not started',
        `${kill.failedUnstarted} (and ${kill.failed - kill.failedUnstarted} streams cut mid-answer by the kill)`,
        kill.failedUnstarted === 0 ? 'yes' : 'no',
      ],
      [`Redis stopped ${outageMs / 1000} s (trace time, ${(outageMs * timeScale) / 1000} s wall): zero failed requests`, `${outage.failed}`, outage.failed === 0 ? 'yes' : 'no'],
      ['in-flight back to zero after Redis is back', outage.idleAfter ? 'yes' : 'no', outage.idleAfter ? 'yes' : 'no'],
      [
        `(stress, not a target) Redis stopped ${outageWallMs / 1000} s wall (${outageWallMs / timeScale / 1000} s of trace time): failed, in-flight back to zero`,
        `${outageWall.failed}, ${outageWall.idleAfter ? 'yes' : 'no'}`,
        '',
      ],
    ],
  );
  console.log(`\n${table}\n\n${targets}\n`);
  if (args.json) console.log(`json: ${writeJson(args.json, { machine, timeScale, seed, rounds, outageMs, outageWallMs, leaseTtlMs: ttl, results, all: Object.fromEntries(all) })}`);
  const md = args.flags.get('md');
  if (typeof md === 'string') {
    const file = resolve(md);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      `# bench:replicas\n\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; seed ${seed}, time scale ${timeScale}, ${rounds} round(s), lease TTL ${ttl / 1000} s wall, Redis out ${outageMs / 1000} s of trace time and (stress) ${outageWallMs / 1000} s wall\n\n${table}\n\n${targets}\n`,
    );
    console.log(`markdown: ${file}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
