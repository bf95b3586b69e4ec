/**
 * pnpm bench:proxy [--quick] [--json FILE] [--md FILE] [--nginx PATH] [--nginx-workers N|auto]
 *                  [--connections N] [--streams N] [--tokens-per-sec N] [--tokens N]
 *                  [--warmup-ms N] [--measure-ms N]
 *
 * What ollama-ring adds on the way to one simulated Ollama node, against a direct connection to
 * that node and against nginx (when installed), all in the same run:
 * - non-streaming requests in a closed loop: req/s, p50, p99;
 * - concurrent NDJSON streams: time to first token and the gap between tokens, and how much each
 *   proxy adds to them over direct.
 *
 * A minimal Node proxy (node-passthrough) is measured too, as a reference: what any Node proxy
 * costs here, against which ollama-ring's own additions show.
 *
 * Sim, proxy and load generator each run in their own process; on a small machine they still
 * share the cores, so the ratios within one run are what count, not the absolute figures.
 */
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { startChild, type Child } from './child';
import { machineLoad } from './cpu';
import { markdownReport, writeText } from './markdown';
import { measureQuietly } from './measure';
import { findNginx, nginxVersion, type NginxInfo } from './nginx';
import type { RequestsResult, SimChildOptions, StreamsResult } from './protocol';
import { combineRounds, goals, measuredRow, skippedRow, type Measurement, type TargetRow } from './report';
import { REQUEST_PATH, requestBody, settingsFor, streamBody, type BenchSettings } from './settings';
import { goalsTable, requestsTable, streamsTable } from './tables';
import { REFERENCE_NAMES, TARGET_NAMES, startTarget, type Target, type TargetName } from './targets';

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

  // Other engineers' jobs may share these cores: say how busy the machine was before starting.
  const loadBefore = await machineLoad(args.quick ? 1_000 : 2_000);
  console.log(`machine load before the run: ${loadBefore === undefined ? 'unknown' : `${loadBefore.toFixed(0)}% of a core`}\n`);

  const simOpts: SimChildOptions = { streamTokensPerSec: s.streamTokensPerSec, tokens: s.tokens, numParallel: maxInFlight };
  const sim = await startChild('sim-child', simOpts);
  const load = await startChild('load-child', {});
  const ALL: TargetName[] = [...TARGET_NAMES, ...REFERENCE_NAMES];
  const byTarget = new Map<TargetName, TargetRow[]>(ALL.map((n) => [n, []]));
  try {
    // A first direct pass, thrown away: the sim and the load generator reach their JIT-compiled
    // steady state before anything is compared (else the first target measured pays for it).
    const warm = await startTarget('direct', { sim, maxInFlight, nginxBin, nginxWorkers });
    if (warm.ok) await measure(warm.target, load, sim, s);
    for (let round = 1; round <= s.rounds; round++) {
      // Each round measures direct first: "added" compares with the direct figures of its own round.
      let direct: Measurement | undefined;
      for (const name of ALL) {
        const started = await startTarget(name, { sim, maxInFlight, nginxBin, nginxWorkers });
        if (!started.ok) {
          if (round === 1) console.log(`${name}: skipped — ${started.skipped}\n  (${started.reason.split('\n')[0]})`);
          byTarget.get(name)?.push(skippedRow(name, started.skipped, started.reason));
          continue;
        }
        try {
          const m = await measure(started.target, load, sim, s);
          direct ??= m;
          const row = measuredRow(m, direct);
          byTarget.get(name)?.push(row);
          console.log(
            `round ${round}, ${name}: ${row.rps} req/s, p99 ${row.p99Ms} ms; TTFT p99 ${row.ttftP99Ms} ms (added ${row.ttftAddedP99Ms} ms);` +
              ` other load ${row.cpu?.requests.otherPct ?? '?'}% / ${row.cpu?.streams.otherPct ?? '?'}% of a core` +
              (row.errors ? `; ${row.errors} errors, first: ${row.firstError}` : ''),
          );
        } finally {
          await started.target.stop();
        }
      }
    }
  } finally {
    await load.stop();
    await sim.stop();
  }
  const rows = ALL.map((n) => combineRounds(byTarget.get(n) ?? []));
  const isTarget = (r: TargetRow): boolean => (TARGET_NAMES as readonly string[]).includes(r.name);

  const verdict = goals(rows, s.streams);
  const tables = [requestsTable(rows, s.connections), streamsTable(rows, s.streams, s.streamTokensPerSec), goalsTable(verdict)].join('\n\n');
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
      targets: rows.filter(isTarget),
      references: rows.filter((r) => !isTarget(r)),
      goals: verdict,
    });
    console.log(`wrote ${path}`);
  }
  const md = args.flags.get('md');
  if (typeof md === 'string') {
    const text = markdownReport({ machine, command, settings: s, loadBeforePct: loadBefore, nginx, maxInFlight, tables });
    console.log(`wrote ${writeText(md, text)}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
