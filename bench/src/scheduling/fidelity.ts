/**
 * node bench/dist/scheduling/fidelity.js [--time-scales 0.02,0.05,0.1,0.2] [--repeat 5] [--json FILE]
 *
 * How faithful is the simulated pool's timing at a given time scale? For hot requests of known size
 * (prompt and output tokens) sent straight to the bench's own sim pool (in its own process, as the
 * scheduling bench runs it), reports actual wall duration ÷ (nominal duration × timeScale), where
 * nominal = prompt tokens ÷ prefill rate + output tokens ÷ generation rate at the node's and model's
 * configured speeds. 1.00 is exact; the scheduling bench needs the pool to be within about 5 %.
 *
 * The client here is a bare fetch; the bench's balancer adds its own per-request cost on top, which
 * the scheduling bench's self-check table measures in the replay itself (hot slot time ÷ nominal).
 *
 * Three loads, each streamed and not:
 * - `alone`: one request at a time on gpu-large (the fastest node: the smallest token gap);
 * - `node full`: gpu-large's 4 slots busy at once;
 * - `pool full`: every slot of every node busy at once (the steady state of an over-loaded run).
 * Each figure is the median over `--repeat` rounds; a round's ratio is the mean over its requests.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { median } from '../common/stats';
import { markdownTable } from '../common/table';
import { NODES, nominalServiceMs, simPoolConfig } from './pool';
import { startSimProcess } from './sim-process';

/** The hot model every node has loaded for the probe, and the request's size. */
const MODEL = 'llama3.2:3b';
const PROMPT_TOKENS = 250;
const OUTPUT_TOKENS = 100;

interface Probe {
  url: string;
  nodeId: string;
  stream: boolean;
}

/** Client-side wall ms, and the sim's own `total_duration` in ms. */
async function one(p: Probe): Promise<{ wall: number; sim: number }> {
  const t0 = performance.now();
  const res = await fetch(`${p.url}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // 4 characters a token, as the sim counts them; raw so no template adds tokens.
    body: JSON.stringify({ model: MODEL, prompt: 'x'.repeat(PROMPT_TOKENS * 4), raw: true, stream: p.stream, options: { num_predict: OUTPUT_TOKENS } }),
  });
  if (!res.ok || !res.body) throw new Error(`${p.nodeId}: HTTP ${res.status} ${await res.text()}`);
  let last = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) last = decoder.decode(chunk as Uint8Array);
  const wall = performance.now() - t0;
  const tail = last.trim().split('\n').pop() ?? '';
  const final = JSON.parse(tail) as { eval_count?: number; total_duration?: number };
  if (final.eval_count !== OUTPUT_TOKENS) throw new Error(`${p.nodeId}: eval_count ${final.eval_count}, wanted ${OUTPUT_TOKENS}`);
  return { wall, sim: (final.total_duration ?? NaN) / 1e6 };
}

/** Means of actual ÷ (nominal × timeScale) over a set of concurrent probes: client wall, and the sim's own. */
async function round(probes: readonly Probe[], ts: number): Promise<{ wall: number; sim: number }> {
  const got = await Promise.all(probes.map(one));
  const nominal = (i: number): number => nominalServiceMs(probes[i].nodeId, MODEL, PROMPT_TOKENS, OUTPUT_TOKENS) * ts;
  const mean = (f: (x: { wall: number; sim: number }) => number): number => got.reduce((a, x, i) => a + f(x) / nominal(i), 0) / got.length;
  return { wall: mean((x) => x.wall), sim: mean((x) => x.sim) };
}

export interface FidelityRow {
  timeScale: number;
  load: string;
  stream: boolean;
  requests: number;
  nominalWallMs: number;
  /** Client-side wall ÷ (nominal × timeScale): what a balancer sees. */
  ratio: number;
  /** The sim's own total_duration ÷ (nominal × timeScale): its timers alone. */
  simRatio: number;
}

export async function measureFidelity(timeScales: readonly number[], repeat: number): Promise<FidelityRow[]> {
  const rows: FidelityRow[] = [];
  for (const ts of timeScales) {
    const config = simPoolConfig(ts);
    // Every node holds the probe model from the start, so every probe is hot.
    for (const n of config.nodes) n.preload = [MODEL];
    const sim = await startSimProcess(config);
    try {
      const url = (id: string): string => (sim.nodes.find((n) => n.id === id) as { url: string }).url;
      const loads: { load: string; probes: (stream: boolean) => Probe[] }[] = [
        { load: 'alone', probes: (stream) => [{ url: url('gpu-large'), nodeId: 'gpu-large', stream }] },
        {
          load: 'node full',
          probes: (stream) => Array.from({ length: 4 }, () => ({ url: url('gpu-large'), nodeId: 'gpu-large', stream })),
        },
        {
          load: 'pool full',
          probes: (stream) => NODES.flatMap((n) => Array.from({ length: n.numParallel }, () => ({ url: url(n.id), nodeId: n.id, stream }))),
        },
      ];
      for (const l of loads) {
        for (const stream of [true, false]) {
          const probes = l.probes(stream);
          await round(probes, ts); // warm-up: connections, JIT
          const ratios: { wall: number; sim: number }[] = [];
          for (let i = 0; i < repeat; i++) ratios.push(await round(probes, ts));
          rows.push({
            timeScale: ts,
            load: l.load,
            stream,
            requests: probes.length,
            nominalWallMs: Math.round(nominalServiceMs('gpu-large', MODEL, PROMPT_TOKENS, OUTPUT_TOKENS) * ts),
            ratio: Math.round(median(ratios.map((r) => r.wall)) * 1000) / 1000,
            simRatio: Math.round(median(ratios.map((r) => r.sim)) * 1000) / 1000,
          });
        }
      }
    } finally {
      await sim.close();
    }
  }
  return rows;
}

export function fidelityTable(rows: readonly FidelityRow[]): string {
  return markdownTable(
    ['timeScale', 'load', 'stream', 'requests', 'nominal wall ms (gpu-large)', 'client wall ÷ nominal', 'sim total_duration ÷ nominal'],
    rows.map((r) => [r.timeScale, r.load, r.stream ? 'yes' : 'no', r.requests, r.nominalWallMs, r.ratio.toFixed(3), r.simRatio.toFixed(3)]),
  );
}

async function main(): Promise<void> {
  const args = parseArgs();
  const list = args.flags.get('time-scales');
  const timeScales = typeof list === 'string' ? list.split(',').map(Number) : [0.02, 0.05, 0.1, 0.2];
  const repeatFlag = args.flags.get('repeat');
  const repeat = typeof repeatFlag === 'string' ? Number(repeatFlag) : 5;
  const machine = machineInfo();
  console.log(`sim fidelity: ${MODEL}, ${PROMPT_TOKENS} prompt + ${OUTPUT_TOKENS} output tokens, hot; median of ${repeat} rounds`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}\n`);
  const rows = await measureFidelity(timeScales, repeat);
  console.log(fidelityTable(rows));
  if (args.json) console.log(`\nwrote ${writeJson(args.json, { machine, model: MODEL, promptTokens: PROMPT_TOKENS, outputTokens: OUTPUT_TOKENS, repeat, rows })}`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
