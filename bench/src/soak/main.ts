/**
 * pnpm test:soak [--minutes N] [--concurrency N] [--no-chaos] [--no-in-band-errors] [--warmup-minutes M]
 *                [--sample-seconds S] [--queued N | --no-queue] [--md FILE] [--json FILE] [--seed N]
 *
 * The long soak and chaos run (the short ones are jest tests, packages/server/test/hardening/): the
 * real gateway, alone in a child process, over three emulated nodes; `--concurrency` clients send
 * every kind of request for `--minutes` while the chaos disrupts the pool. It prints the figures
 * (requests, errors by kind, p50/p99 latency, the gateway's RSS and heap over time and their growth
 * after warm-up), then measures what `--queued` waiting requests cost in memory. Exits 1 if a request
 * broke an invariant (no end or two, past the bound), something stayed in flight, or a node got more
 * than its slots.
 *
 * Chaos injects mid-stream `{"error":…}` lines too (each such stream must still end exactly once);
 * `--no-in-band-errors` leaves them out.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from '../common/args';
import { machineInfo } from '../common/machine';
import { startChild } from './gateway';
import { measureQueueMemory } from './queue-memory';
import { markdown, memoryGrowth, type Report } from './report';
import { runSoak } from './run';

function num(flags: Map<string, string | true>, key: string, fallback: number): number {
  const v = flags.get(key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isFinite(n) || n < 0) throw new Error(`--${key} needs a number`);
  return n;
}

async function main(): Promise<number> {
  const { flags, json } = parseArgs();
  const minutes = num(flags, 'minutes', 2);
  const concurrency = num(flags, 'concurrency', 32);
  const chaos = !flags.has('no-chaos');
  const warmupMs = num(flags, 'warmup-minutes', Math.min(2, minutes * 0.2)) * 60_000;
  const report: Report = { command: `pnpm test:soak ${process.argv.slice(2).join(' ')}`.trim(), machine: machineInfo(), minutes, concurrency, chaos };
  let failed = false;
  if (minutes > 0) {
    const env = await startChild();
    try {
      console.log(`soak: ${minutes} min, ${concurrency} clients, chaos ${chaos ? 'on' : 'off'}, gateway ${env.gatewayUrl}`);
      report.soak = await runSoak({
        ...env,
        durationMs: minutes * 60_000,
        concurrency,
        chaos,
        inBandErrors: !flags.has('no-in-band-errors'),
        abortRate: num(flags, 'abort-rate', 0.03),
        seed: num(flags, 'seed', 1),
        sampleMemory: env.sampleMemory,
        sampleEveryMs: num(flags, 'sample-seconds', 10) * 1000,
        progress: (line) => console.log(line),
      });
      report.growth = memoryGrowth(report.soak.memory, warmupMs);
      const s = report.soak;
      failed = s.violations > 0 || s.unsettled !== undefined || s.peaks.some((p) => p.peak > p.slots) || s.afterwards.length > 0;
    } finally {
      await env.close();
    }
  }
  if (!flags.has('no-queue')) {
    const queued = num(flags, 'queued', 10_000);
    console.log(`queue memory: ${queued} waiting requests`);
    try {
      report.queue = await measureQueueMemory(queued, (line) => console.log(`  ${line}`));
      if (report.queue.leftInFlight !== 0) failed = true;
    } catch (e) {
      // The soak's figures are still worth writing.
      console.error(`queue memory: ${e instanceof Error ? e.message : String(e)}`);
      failed = true;
    }
  }
  const text = markdown(report);
  console.log(`\n${text}`);
  const md = flags.get('md');
  if (typeof md === 'string') writeFileSync(md, text);
  if (json) writeFileSync(json, JSON.stringify(report, null, 2));
  if (failed) console.error('soak: an invariant was broken (see above)');
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
