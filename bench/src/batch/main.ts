/**
 * pnpm bench:batch [--quick] [--only batch,embed,fairness] [--rounds 3] [--json FILE] [--md FILE]
 *                  [--time-scale 0.1] [--seed N] [--max-other-pct 25] [--retries 2]
 *                  batch:    [--lines 2000] [--interactive-load 0.5]
 *                  embed:    [--requests 20000] [--clients 64] [--call-ms 10] [--input-ms 0.5] [--window-ms 2]
 *                  fairness: [--light-load 0.3] [--fair-ms 600000]
 *
 * The batch issue's three benchmarks, against emulated pools (`ollama-sim`), each in `--rounds`
 * rounds, the figures medians over them:
 *   batch     a chat batch through `BatchRunner` (class `batch`) beside an interactive load at half
 *             the pool's capacity, on an embedded balancer (mixed.ts);
 *   embed     single-input embeds from many clients through the gateway, autobatch off and on (embed.ts);
 *   fairness  two API keys, one at ten times the other's rate, into a saturated pool (fairness.ts).
 * Durations of simulated work are unscaled ms (`--time-scale` 0.1: one simulated second takes 100 ms
 * of wall time, as in bench:scheduling); `--fair-ms` is unscaled too. A round
 * during which other processes took more than `--max-other-pct` of a core is run again, up to
 * `--retries` times (0 with `--quick`), and the least disturbed kept. `--quick` runs a tiny version of each (one round):
 * it proves the harness works, it is not a result.
 */
import { parseArgs } from '../common/args';
import { writeJson } from '../common/json-out';
import { machineInfo } from '../common/machine';
import { revision } from '../common/revision';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { embedSettings, num, runOnce } from './embed';
import { HEAVY_FACTOR, runFairnessRound, type FairnessRound, type FairnessSettings } from './fairness';
import { type Quiet, quietly } from './load';
import { runMixedRound, type MixedRound, type MixedSettings } from './mixed';
import { FAIR_POOL, MIXED_POOL, OUTPUT_TOKENS, PROMPT_TOKENS, capacityRps, serviceMs } from './pool';
import { type EmbedRound, embedTable, fairnessTable, markdownReport, mixedTable, targets, targetsTable } from './report';

const SCENARIOS = ['batch', 'embed', 'fairness'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** Why 0.1: see bench:scheduling's main.ts (the smallest scale at which the pool keeps its nominal speed on this machine). */
const DEFAULT_TIME_SCALE = 0.1;

function only(v: string | true | undefined): Scenario[] {
  if (v === undefined) return [...SCENARIOS];
  if (v === true) throw new Error(`--only needs a list of ${SCENARIOS.join(', ')}`);
  const names = v.split(',').map((s) => s.trim());
  for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new Error(`--only: unknown scenario '${n}' (one of ${SCENARIOS.join(', ')})`);
  return SCENARIOS.filter((s) => names.includes(s));
}

async function main(): Promise<void> {
  const args = parseArgs();
  const q = args.quick;
  const run = only(args.flags.get('only'));
  const rounds = Math.max(1, Math.round(num(args.flags, 'rounds', q ? 1 : 3)));
  const timeScale = num(args.flags, 'time-scale', DEFAULT_TIME_SCALE);
  if (timeScale <= 0) throw new Error('--time-scale needs a number > 0');
  const seed = num(args.flags, 'seed', 20261205);
  // A quick run is not a result: it is never measured again.
  const quiet: Quiet = { maxOtherPct: num(args.flags, 'max-other-pct', 25), retries: Math.round(num(args.flags, 'retries', q ? 0 : 2)) };
  const mixed: MixedSettings = {
    lines: Math.round(num(args.flags, 'lines', q ? 60 : 2_000)),
    interactiveLoad: num(args.flags, 'interactive-load', 0.5),
    timeScale,
    seed,
  };
  const embed = embedSettings(args.flags, q, { requests: 300, clients: 8 });
  const fair: FairnessSettings = { lightLoad: num(args.flags, 'light-load', 0.3), phaseMs: num(args.flags, 'fair-ms', q ? 30_000 : 600_000), timeScale, seed };
  const machine = machineInfo();
  console.log(`bench:batch ${q ? '(quick: proves the harness, not a result) ' : ''}${run.join(',')}, ${rounds} round(s), timeScale ${timeScale}`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}\n`);

  const mixedRounds: MixedRound[] = [];
  const embedRounds: EmbedRound[] = [];
  const fairRounds: FairnessRound[] = [];
  for (let r = 1; r <= rounds; r++) {
    if (run.includes('batch')) {
      const m = await quietly(`batch round ${r}`, quiet, () => runMixedRound(mixed, r));
      mixedRounds.push(m);
      console.log(
        `batch round ${r}: TTFT p99 ${m.interactiveAlone.ttftP99Ms.toFixed(0)} → ${m.mixed.ttftP99Ms.toFixed(0)} ms, ` +
          `pool busy ${(m.mixed.utilization * 100).toFixed(1)} %, batch ${(m.batchAlone.durationMs / 1000).toFixed(1)} → ${(m.mixed.durationMs / 1000).toFixed(1)} s`,
      );
    }
    if (run.includes('embed')) {
      const e = await quietly(`embed round ${r}`, quiet, async () => {
        const off = await runOnce(false, embed);
        const on = await runOnce(true, embed);
        const otherPct = off.otherPct === undefined || on.otherPct === undefined ? undefined : Math.max(off.otherPct, on.otherPct);
        return { off, on, throughputRatio: on.reqPerSec / off.reqPerSec, ...(otherPct !== undefined && { otherPct }) } as EmbedRound;
      });
      embedRounds.push(e);
      console.log(`embed round ${r}: ${e.off.reqPerSec.toFixed(0)} → ${e.on.reqPerSec.toFixed(0)} req/s (${e.throughputRatio.toFixed(2)}×)`);
    }
    if (run.includes('fairness')) {
      const fr = await quietly(`fairness round ${r}`, quiet, () => runFairnessRound(fair, r));
      fairRounds.push(fr);
      console.log(`fairness round ${r}: light key's queue p99 ${fr.lightAlone.queueP99Ms.toFixed(0)} → ${fr.light.queueP99Ms.toFixed(0)} ms (${fr.lightP99Ratio.toFixed(2)}×)`);
    }
  }

  const svc = serviceMs();
  const sections: { title: string; about: string; table: string }[] = [];
  if (mixedRounds.length > 0) {
    sections.push({
      title: 'Batch against interactive',
      about:
        `${MIXED_POOL.name} (${capacityRps(MIXED_POOL).toFixed(2)} req/s when every slot is busy: ${PROMPT_TOKENS}-token chats answered with ${OUTPUT_TOKENS} tokens, ${svc.toFixed(0)} ms a slot). ` +
        `Interactive: streamed chats, Poisson at ${(mixed.interactiveLoad * 100).toFixed(0)} % of capacity, beside the batch, then the same arrivals (same seed, same times) alone: the TTFT ratio is over the same requests. ` +
        `Batch: ${mixed.lines} chat lines through BatchRunner (class batch, ${Object.values(MIXED_POOL.slots).reduce((a, b) => a + b, 0)} at a time), on the idle pool, then beside the interactive load. ` +
        'Stretch on the spare capacity: the batch beside interactive ÷ (alone ÷ (1 − the pool share the interactive load took alone)).',
      table: mixedTable(mixedRounds),
    });
  }
  if (embedRounds.length > 0) {
    sections.push({
      title: 'Embeddings, autobatch off and on',
      about:
        `${embed.requests} single-input /api/embed requests from ${embed.clients} concurrent clients through the gateway to one node (one slot; ` +
        `${embed.sim.embedCallMs} ms a call + ${embed.sim.embedInputMs} ms an input, in real time); autobatch window ${embed.windowMs} ms.`,
      table: embedTable(embedRounds),
    });
  }
  if (fairRounds.length > 0) {
    sections.push({
      title: 'Fairness between API keys',
      about:
        `${FAIR_POOL.name} (${capacityRps(FAIR_POOL).toFixed(2)} req/s). The light key at ${(fair.lightLoad * 100).toFixed(0)} % of capacity, Poisson, ` +
        `${(fair.phaseMs / 1000).toFixed(0)} s alone, then ${(fair.phaseMs / 1000).toFixed(0)} s beside a heavy key at ${HEAVY_FACTOR}× its rate; non-streamed chats, queue waits from InferenceResponse.queueMs.`,
      table: fairnessTable(fairRounds),
    });
  }
  for (const s of sections) console.log(`\n## ${s.title}\n\n${s.about}\n\n${s.table}`);
  const t = targets(mixedRounds, embedRounds, fairRounds);
  console.log(`\n## Targets${q ? ' (--quick: not a result)' : ''}\n\n${targetsTable(t)}\n`);
  console.log(`${t.filter((x) => x.met).length} of ${t.length} targets met`);

  const rev = revision(['packages', 'bench/src']);
  const command = `pnpm bench:batch ${process.argv.slice(2).join(' ')}`.trim();
  const md = args.flags.get('md');
  if (typeof md === 'string') {
    const header = {
      date: machine.date.slice(0, 10),
      revision: rev,
      machine: `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}`,
      command,
      quick: q,
    };
    const path = resolve(process.env.INIT_CWD ?? process.cwd(), md);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, markdownReport(header, sections, t));
    console.log(`wrote ${path}`);
  }
  if (args.json) {
    const path = writeJson(args.json, {
      machine,
      revision: rev,
      command,
      quick: q,
      rounds,
      timeScale,
      settings: {
        batch: { ...mixed, pool: MIXED_POOL, serviceMs: svc, capacityRps: capacityRps(MIXED_POOL) },
        embed,
        fairness: { ...fair, heavyFactor: HEAVY_FACTOR, pool: FAIR_POOL, capacityRps: capacityRps(FAIR_POOL) },
      },
      batch: mixedRounds,
      embed: embedRounds,
      fairness: fairRounds,
      targets: t,
    });
    console.log(`wrote ${path}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
