/**
 * pnpm bench:proxy [--quick] [--json FILE] [--md FILE] [--nginx PATH] [--nginx-workers N|auto]
 *                  [--baseline GIT-REF|auto|none] [--baseline-dir DIR] [--cpu-prof DIR] [--only TARGET,…]
 *                  [--connections N] [--streams N] [--tokens-per-sec N] [--tokens N]
 *                  [--warmup-ms N] [--measure-ms N] [--rounds N] [--retries N] [--max-other-pct N]
 *                  [--set key.path=value,…]
 *
 * What ollama-ring adds on the way to one simulated Ollama node, against a direct connection to
 * that node and against nginx (when installed), all in the same run:
 * - non-streaming requests in a closed loop: req/s, p50, p99;
 * - concurrent NDJSON streams: time to first token and the gap between tokens, and how much each
 *   proxy adds to them over direct.
 *
 * A minimal Node proxy (node-passthrough) is measured too, as a reference: what any Node proxy
 * costs here, against which ollama-ring's own additions show. So is the previous build
 * (ollama-ring-previous): the gateway as another commit had it (--baseline; the default, auto, is
 * the code before its last change), checked out in a git worktree, installed and built there (see
 * baseline.ts), so that a change is judged against the code before it in the same run, not against
 * figures of another day.
 *
 * Sim, proxy and load generator each run in their own process; on a small machine they still
 * share the cores, so the ratios within one run are what count, not the absolute figures.
 */
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { autoBaseline, baselineRef, prepareBaseline, resolveCommit, REPO_ROOT, type BaselineInfo } from './baseline';
import { startChild, type Child } from './child';
import { onCleanup, runCleanups } from './cleanup';
import { machineLoad } from './cpu';
import { markdownReport, writeText } from './markdown';
import { measureQuietly } from './measure';
import { findNginx, nginxVersion, type NginxInfo } from './nginx';
import type { RequestsResult, SimChildOptions, StreamsResult } from './protocol';
import { combineRounds, compareRows, goals, measuredRow, skippedRow, type Measurement, type TargetRow } from './report';
import { REQUEST_PATH, requestBody, settingsFor, streamBody, type BenchSettings } from './settings';
import { goalsTable, ratiosTable, requestsTable, streamsTable, summaryTable, type Labels } from './tables';
import { REFERENCE_NAMES, TARGET_NAMES, startTarget, type Target, type TargetName, type TargetOptions } from './targets';

/** `--set a.b=v,c.d=w`: values read as JSON when they parse (`false`, `2`), else as strings. */
function configSets(flag: string | true | undefined): Record<string, unknown> | undefined {
  if (typeof flag !== 'string') return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of flag.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--set wants key.path=value, got '${pair}'`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare string
    }
    out[pair.slice(0, eq)] = value;
  }
  return out;
}

async function measure(t: Target, load: Child, sim: Child, s: BenchSettings): Promise<Measurement> {
  const procs = { proxy: t.pids, proxyChild: t.child, sim };
  const base = { url: t.url, path: REQUEST_PATH, warmupMs: s.warmupMs, measureMs: s.measureMs };
  const q = { maxOtherPct: s.maxOtherPct, retries: s.retries };
  const job = { ...base, kind: 'requests' as const, body: requestBody, concurrency: s.connections };
  const requests = await measureQuietly<RequestsResult>(load, job, procs, q, t.name);
  const staggerMs = (s.tokens * 1000) / s.streamTokensPerSec;
  const stream = { ...base, kind: 'streams' as const, body: streamBody, concurrency: s.streams, staggerMs };
  const streams = await measureQuietly<StreamsResult>(load, stream, procs, q, t.name);
  return { name: t.name, requests, streams };
}

/**
 * The previous build, ready to run, or why it is skipped. A ref given by hand that does not resolve
 * is an error; the automatic one may not exist (a shallow clone, the first commit) and is skipped.
 */
async function previousBuild(flags: Map<string, string | true>): Promise<{ option: TargetOptions['baseline']; info: BaselineInfo }> {
  let ref = baselineRef(flags);
  if (ref === undefined) {
    const skipped = 'no previous build (--baseline none)';
    return { option: undefined, info: { ref: null, skipped, reason: 'run without --baseline none to measure it' } };
  }
  const auto = ref === 'auto';
  try {
    if (auto) {
      const chosen = autoBaseline(REPO_ROOT);
      console.log(`previous build: --baseline auto chose ${chosen.ref}: ${chosen.why}`);
      ref = chosen.ref;
    }
    resolveCommit(REPO_ROOT, ref);
  } catch (e) {
    if (!auto) throw e;
    const skipped = 'no previous build found (--baseline auto)';
    return { option: { ok: false, skipped, reason: (e as Error).message }, info: { ref, skipped, reason: (e as Error).message } };
  }
  const dir = flags.get('baseline-dir');
  try {
    const b = await prepareBaseline(ref, { cacheDir: typeof dir === 'string' ? dir : undefined });
    if (b.cached) console.log(`previous build: ${ref} = ${b.sha.slice(0, 12)} "${b.subject}", built by an earlier run (${b.dir})`);
    return { option: { ok: true, build: b }, info: { ...b } };
  } catch (e) {
    const reason = (e as Error).message;
    const skipped = `previous build (${ref}) did not build`;
    console.log(`previous build: ${skipped}\n${reason}\n`);
    return { option: { ok: false, skipped, reason }, info: { ref, skipped, reason } };
  }
}

async function main(): Promise<void> {
  const args = parseArgs();
  const s = settingsFor(args.quick, args.flags);
  const nginxFlag = args.flags.get('nginx');
  const nginxBin = typeof nginxFlag === 'string' ? nginxFlag : undefined;
  const nginxWorkers = String(args.flags.get('nginx-workers') ?? 'auto');
  // Twice the concurrency: a closed loop sends its next request the moment the last one ends,
  // before the balancer may have released that slot, and this bench must not measure queueing.
  const maxInFlight = 2 * Math.max(s.connections, s.streams);
  const machine = machineInfo();
  const command = `pnpm bench:proxy ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`bench:proxy ${args.quick ? '(quick) ' : ''}${JSON.stringify(s)}`);
  console.log(`${machine.cpu}, ${machine.cores} cores shared by load generator, proxy and sim; Node ${machine.node}\n`);

  // Built before anything is measured: an install and a tsc run would take the cores from it.
  const previous = await previousBuild(args.flags);
  const labels: Labels = 'sha' in previous.info ? { 'ollama-ring-previous': `${previous.info.ref} = ${previous.info.sha.slice(0, 7)}` } : {};
  const profileDir = args.flags.get('cpu-prof');
  const targetOpts = {
    maxInFlight,
    nginxBin,
    nginxWorkers,
    baseline: previous.option,
    profileDir: typeof profileDir === 'string' ? profileDir : undefined,
    set: configSets(args.flags.get('set')),
  };

  // Other engineers' jobs may share these cores: say how busy the machine was before starting.
  const loadBefore = await machineLoad(args.quick ? 1_000 : 2_000);
  console.log(`machine load before the run: ${loadBefore === undefined ? 'unknown' : `${loadBefore.toFixed(0)}% of a core`}\n`);

  const simOpts: SimChildOptions = { streamTokensPerSec: s.streamTokensPerSec, tokens: s.tokens, numParallel: maxInFlight };
  const sim = await startChild('sim-child', simOpts);
  const offSim = onCleanup(() => sim.stop());
  const load = await startChild('load-child', {});
  const offLoad = onCleanup(() => load.stop());
  const ALL: TargetName[] = [...TARGET_NAMES, ...REFERENCE_NAMES];
  const onlyFlag = args.flags.get('only');
  const only = typeof onlyFlag === 'string' ? (onlyFlag.split(',').filter((n) => (ALL as string[]).includes(n)) as TargetName[]) : undefined;
  const byTarget = new Map<TargetName, TargetRow[]>(ALL.map((n) => [n, []]));
  try {
    // A first direct pass, thrown away: the sim and the load generator reach their JIT-compiled
    // steady state before anything is compared (else the first target measured pays for it).
    const warm = await startTarget('direct', { sim, ...targetOpts });
    if (warm.ok) await measure(warm.target, load, sim, s);
    for (let round = 1; round <= s.rounds; round++) {
      // Each round measures direct first: "added" compares with the direct figures of its own round.
      let direct: Measurement | undefined;
      // --only: those targets, in the order given (to see whether a target's place in the round
      // matters), the others reported skipped; direct always runs first ("added" is measured against it).
      for (const name of only ? ['direct' as const, ...ALL.filter((n) => n !== 'direct' && !only.includes(n)), ...only] : ALL) {
        if (only && name !== 'direct' && !only.includes(name)) {
          if (round === 1) byTarget.get(name)?.push(skippedRow(name, 'not in --only', `--only ${only.join(',')}`));
          continue;
        }
        const started = await startTarget(name, { sim, ...targetOpts });
        if (!started.ok) {
          if (round === 1) console.log(`${name}: skipped — ${started.skipped}\n  (${started.reason.split('\n')[0]})`);
          byTarget.get(name)?.push(skippedRow(name, started.skipped, started.reason));
          continue;
        }
        const offTarget = onCleanup(() => started.target.stop());
        try {
          const m = await measure(started.target, load, sim, s);
          direct ??= m;
          const row = measuredRow(m, direct, s.measureMs);
          byTarget.get(name)?.push(row);
          console.log(
            `round ${round}, ${name}: ${row.rps} req/s, p99 ${row.p99Ms} ms; TTFT p99 ${row.ttftP99Ms} ms (added ${row.ttftAddedP99Ms} ms);` +
              ` other load ${row.cpu?.requests.otherPct ?? '?'}% / ${row.cpu?.streams.otherPct ?? '?'}% of a core` +
              (row.errors ? `; ${row.errors} errors, first: ${row.firstError}` : ''),
          );
        } finally {
          offTarget();
          await started.target.stop();
        }
      }
    }
  } finally {
    offLoad();
    offSim();
    await load.stop();
    await sim.stop();
  }
  const rows = compareRows(ALL.map((n) => combineRounds(byTarget.get(n) ?? [])));
  const isTarget = (r: TargetRow): boolean => (TARGET_NAMES as readonly string[]).includes(r.name);

  const verdict = goals(rows, s.streams);
  const tables = [
    summaryTable(rows, s.connections, s.streams, labels),
    ratiosTable(rows, labels),
    requestsTable(rows, s.connections, labels),
    streamsTable(rows, s.streams, s.streamTokensPerSec, labels),
    goalsTable(verdict),
  ].join('\n\n');
  console.log(`\n${tables}\n`);

  const bin = findNginx(nginxBin);
  const nginx: NginxInfo = bin ? { binary: bin, version: nginxVersion(bin), workerProcesses: nginxWorkers, keepalive: maxInFlight } : { skipped: true };
  if (args.json) {
    const path = writeJson(args.json, {
      machine,
      date: machine.date,
      command,
      settings: s,
      machineLoadBeforePct: loadBefore === undefined ? null : Number(loadBefore.toFixed(1)),
      nginx,
      baseline: previous.info,
      targets: rows.filter(isTarget),
      references: rows.filter((r) => !isTarget(r)),
      goals: verdict,
    });
    console.log(`wrote ${path}`);
  }
  const md = args.flags.get('md');
  if (typeof md === 'string') {
    const text = markdownReport({ machine, command, settings: s, loadBeforePct: loadBefore, nginx, baseline: previous.info, maxInFlight, tables });
    console.log(`wrote ${writeText(md, text)}`);
  }
}

main().catch(async (e: unknown) => {
  console.error(e);
  await runCleanups();
  process.exit(1);
});
