/**
 * Scenario 1, batch against interactive. One fresh emulated pool (own process) and one embedded
 * balancer per round, three phases on it:
 *   1. the batch alone on the idle pool: `lines` chat lines through `BatchRunner` (class `batch`,
 *      as many at a time as the pool has slots, as the gateway's `batch.concurrency: 0` does);
 *   2. both: streamed interactive chats at `interactiveLoad` of the pool's capacity, Poisson, and
 *      the same batch started once they run;
 *   3. interactive alone: the very same arrivals as in 2 (same seed, same times), for as long.
 * Reported in unscaled ms: interactive TTFT p99 in 2 ÷ in 3, over the same arrivals (those sent
 * while the batch ran in 2), the pool's utilization while the batch ran (the balancer's own busy ÷
 * capacity slot time, `PoolView.usage`), and the batch's duration in 2 ÷ in 1, also against what
 * the capacity phase 3's load leaves it.
 *
 * Why the same arrivals: the p99 of a queue at half load is set by a few bursts, and two different
 * stretches of the same Poisson load differ by more than the 15 % the target allows (in the
 * model `queue-model.ts`, the p99 of one 300 s stretch ranges over 0.5–0.9 s between the 10th and
 * 90th percentile of seeds). Sending the same arrivals with and without the batch measures what
 * the batch adds, not which bursts each stretch happened to get.
 */
import { performance } from 'node:perf_hooks';
import { InferenceRequest, PipelineFactory } from '@ollama-ring/balancer';
import { BatchRunner, type BatchLine } from '@ollama-ring/server';
import { percentile } from '../common/stats';
import { startSimProcess } from '../scheduling/sim-process';
import { cpuWindow, openLoop } from './load';
import { CHAT_MODEL, MIXED_POOL, OUTPUT_TOKENS, PROMPT, capacityRps, poolBalancerConfig, simConfig, totalSlots } from './pool';

export interface MixedSettings {
  lines: number;
  /** The interactive load, a fraction of the pool's capacity. */
  interactiveLoad: number;
  timeScale: number;
  seed: number;
}

/** One round; every duration unscaled ms. */
export interface MixedRound {
  interactiveAlone: { requests: number; errors: number; ttftP50Ms: number; ttftP99Ms: number; utilization: number };
  batchAlone: { lines: number; failed: number; durationMs: number; utilization: number };
  mixed: { lines: number; failed: number; durationMs: number; utilization: number; interactiveRequests: number; interactiveErrors: number; ttftP50Ms: number; ttftP99Ms: number };
  /** Mixed interactive TTFT p99 ÷ alone (target ≤ 1.15). */
  ttftP99Ratio: number;
  /** Mixed batch duration ÷ alone (target ≤ 1.2). */
  batchStretch: number;
  /**
   * Mixed batch duration ÷ (alone ÷ (1 − the pool share phase 1's interactive load took)): against
   * the time the capacity left over by the interactive load needs for the batch.
   */
  batchStretchOnSpare: number;
  otherPct?: number;
  attempts?: number;
}

type Factory = Awaited<ReturnType<ReturnType<typeof PipelineFactory.fromConfig>['start']>>;

/** Busy and capacity slot ms summed over the pool, now. */
function usage(f: Factory): { busy: number; capacity: number } {
  let busy = 0;
  let capacity = 0;
  for (const u of Object.values(f.getPoolView().usage)) {
    busy += u.busySlotMs;
    capacity += u.capacitySlotMs;
  }
  return { busy, capacity };
}

function utilizationSince(f: Factory, from: { busy: number; capacity: number }): number {
  const to = usage(f);
  return to.capacity > from.capacity ? (to.busy - from.busy) / (to.capacity - from.capacity) : NaN;
}

function batchLines(n: number): BatchLine[] {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `line-${i}`,
    method: 'POST',
    url: '/api/chat',
    body: { model: CHAT_MODEL, messages: [{ role: 'user', content: PROMPT }], options: { num_predict: OUTPUT_TOKENS } },
  }));
}

/** One interactive request: when it was sent (wall ms, performance.now) and its TTFT (wall ms), or its failure. */
interface Sent {
  at: number;
  ttftMs?: number;
}

/** The interactive load: streamed chats, each recording its TTFT, until stopped. */
function interactive(f: Factory, ratePerSec: number, seed: number, sent: Sent[]): ReturnType<typeof openLoop> {
  const pipeline = f.getPipeline();
  const req = InferenceRequest.ofChat(CHAT_MODEL, [{ role: 'user', content: PROMPT }], { options: { num_predict: OUTPUT_TOKENS } });
  return openLoop(ratePerSec, seed, async () => {
    const rec: Sent = { at: performance.now() };
    sent.push(rec);
    try {
      let first: number | undefined;
      for await (const _chunk of pipeline.stream(req)) first ??= performance.now() - rec.at;
      rec.ttftMs = first;
    } catch {
      rec.ttftMs = undefined;
    }
  });
}

/** The TTFTs of these requests, and how many of them failed. */
function outcomes(sent: readonly Sent[]): { ttfts: number[]; errors: number } {
  const ttfts = sent.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs]));
  return { ttfts, errors: sent.length - ttfts.length };
}

async function runBatch(f: Factory, lines: number): Promise<{ failed: number; durationMs: number }> {
  const runner = new BatchRunner(f.getPipeline(), { concurrency: totalSlots(MIXED_POOL) });
  const t0 = performance.now();
  const summary = await runner.run(batchLines(lines), () => undefined);
  return { failed: summary.failed, durationMs: performance.now() - t0 };
}

export async function runMixedRound(s: MixedSettings, round: number): Promise<MixedRound> {
  const ts = s.timeScale;
  const unscale = (ms: number): number => ms / ts;
  const rate = (capacityRps(MIXED_POOL) * s.interactiveLoad) / ts;
  const sim = await startSimProcess(simConfig(MIXED_POOL, ts));
  let factory: Factory | undefined;
  try {
    const f = await PipelineFactory.fromConfig(poolBalancerConfig(MIXED_POOL, sim.nodes, ts)).start();
    factory = f;
    const other = cpuWindow([sim.pid]);
    // Warm-up: every slot serves a request, so the estimates start from the pool's own timings.
    await runBatch(f, totalSlots(MIXED_POOL) * 2);
    const seed = s.seed + round;

    // 1. The batch alone, on the idle pool.
    let mark = usage(f);
    const idle = await runBatch(f, s.lines);
    const idleUtil = utilizationSince(f, mark);

    // 2. Both: the interactive load first (one mean service time), then the batch beside it.
    const mixedSent: Sent[] = [];
    const loadFrom = performance.now();
    const load = interactive(f, rate, seed, mixedSent);
    await new Promise((r) => setTimeout(r, (totalSlots(MIXED_POOL) / capacityRps(MIXED_POOL)) * 1000 * ts));
    mark = usage(f);
    const bothFrom = performance.now();
    const both = await runBatch(f, s.lines);
    const bothUtil = utilizationSince(f, mark);
    const bothTo = performance.now();
    await load.stop();
    // The arrivals sent while the batch ran: their indices are the same arrivals in phase 3.
    const first = mixedSent.findIndex((r) => r.at >= bothFrom);
    const during = mixedSent.slice(first).filter((r) => r.at < bothTo).length;
    const m = outcomes(mixedSent.slice(first, first + during));

    // 3. Interactive alone: the same arrivals, over the same stretch of them.
    const aloneSent: Sent[] = [];
    const alone = interactive(f, rate, seed, aloneSent);
    await new Promise((r) => setTimeout(r, bothFrom - loadFrom));
    mark = usage(f);
    await new Promise((r) => setTimeout(r, bothTo - bothFrom));
    const aloneUtil = utilizationSince(f, mark);
    await alone.stop();
    const a = outcomes(aloneSent.slice(first, first + during));
    const otherPct = other();

    const ttftAloneP99 = unscale(percentile(a.ttfts, 99));
    const ttftMixedP99 = unscale(percentile(m.ttfts, 99));
    const share = Math.min(0.99, Number.isFinite(aloneUtil) ? aloneUtil : s.interactiveLoad);
    return {
      interactiveAlone: { requests: a.ttfts.length + a.errors, errors: a.errors, ttftP50Ms: unscale(percentile(a.ttfts, 50)), ttftP99Ms: ttftAloneP99, utilization: aloneUtil },
      batchAlone: { lines: s.lines, failed: idle.failed, durationMs: unscale(idle.durationMs), utilization: idleUtil },
      mixed: {
        lines: s.lines,
        failed: both.failed,
        durationMs: unscale(both.durationMs),
        utilization: bothUtil,
        interactiveRequests: m.ttfts.length + m.errors,
        interactiveErrors: m.errors,
        ttftP50Ms: unscale(percentile(m.ttfts, 50)),
        ttftP99Ms: ttftMixedP99,
      },
      ttftP99Ratio: ttftMixedP99 / ttftAloneP99,
      batchStretch: both.durationMs / idle.durationMs,
      batchStretchOnSpare: both.durationMs / (idle.durationMs / (1 - share)),
      ...(otherPct !== undefined && { otherPct }),
    };
  } finally {
    await factory?.stop(1_000);
    await sim.close();
  }
}
