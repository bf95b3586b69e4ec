/**
 * pnpm bench:failover [--rounds 3] [--only refused,hang-before-headers] [--warm-ms 4000] [--fault-ms 6000]
 *                     [--rate 6] [--tokens 20] [--request-timeout-ms 15000] [--md FILE] [--json FILE] [--quick]
 *
 * For each fault (refused, reset, hang before headers, hang before the first token, stall
 * mid-stream, a 503 storm, a node 5× slower than its peers), a fresh three-node simulated pool in
 * real time (no time scaling: the deadlines are real milliseconds) and a fresh balancer take an
 * open-loop load, half streamed; after the warm-up node `a` gets the fault. Reports how soon the
 * node was found and taken out, how soon its requests were served elsewhere, what they paid, and
 * what was lost. Medians over rounds for times, sums for counts.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { FAULTS } from './faults';
import { faultTable, summariseFault, type FaultSummary } from './report';
import { runFault, type RunSettings } from './run';

function num(v: string | true | undefined, d: number): number {
  if (typeof v !== 'string') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${v}`);
  return n;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const f = args.flags;
  const rounds = num(f.get('rounds'), args.quick ? 1 : 3);
  const settings: RunSettings = {
    warmMs: num(f.get('warm-ms'), args.quick ? 3_000 : 4_000),
    faultMs: num(f.get('fault-ms'), args.quick ? 4_000 : 6_000),
    rate: num(f.get('rate'), 6),
    tokens: num(f.get('tokens'), 20),
    requestTimeoutMs: num(f.get('request-timeout-ms'), 15_000),
  };
  const only = typeof f.get('only') === 'string' ? String(f.get('only')).split(',') : undefined;
  const faults = only ? only.map((n) => FAULTS.find((x) => x.name === n) ?? fail(`unknown fault '${n}' (${FAULTS.map((x) => x.name).join(', ')})`)) : FAULTS;
  const summaries: FaultSummary[] = [];
  for (const fault of faults) {
    const runs = [];
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`${fault.name}: round ${r + 1}/${rounds}\n`);
      runs.push(await runFault(fault, settings));
    }
    summaries.push(summariseFault(fault, runs));
  }
  const m = machineInfo();
  const head = [
    `# bench:failover, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.platform}, Node ${m.node}. Command: \`pnpm bench:failover ${process.argv.slice(2).join(' ')}\`.`,
    `Three simulated nodes (2 slots each, model hot, 50 tokens/s, real time), ${settings.rate} requests/s open loop, half streamed,`,
    `${settings.tokens} tokens each; the fault hits node a after ${settings.warmMs} ms and lasts ${settings.faultMs} ms. Medians of ${rounds} rounds`,
    'for times, sums for counts. Extra latency is against the median of the same kind of request before the fault.',
    '',
  ].join('\n');
  const md = `${head}\n${faultTable(summaries)}\n`;
  process.stdout.write(`${md}\n`);
  const mdFile = f.get('md');
  if (typeof mdFile === 'string') writeFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), mdFile), md);
  if (args.json) writeJson(args.json, { machine: m, settings, rounds, faults: summaries.map((s) => ({ ...s, fault: s.fault.name })) });
}

function fail(msg: string): never {
  throw new Error(msg);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
