/**
 * Scenario 3, fairness between API keys. One fresh emulated pool (own process) and one embedded
 * balancer per round, two phases of `phaseMs` each:
 *   1. the light key alone, at `lightLoad` of the pool's capacity (Poisson);
 *   2. the light key at the same rate, and the heavy key at ten times it, far over capacity.
 * Every request is a non-streamed chat with `clientKey` set, so the wait queue takes fair turns
 * between the two keys (weight 1 each). The queue wait is the library's `InferenceResponse.queueMs`
 * (what the gateway sends as `X-Ollama-Ring-Queue-Ms`). Reported, unscaled: the light key's p99
 * queue wait in 2 ÷ in 1 (target ≤ 1.5), and what each key got served.
 */
import { InferenceRequest, PipelineFactory } from '@ollama-ring/balancer';
import { percentile } from '../common/stats';
import { startSimProcess } from '../scheduling/sim-process';
import { cpuWindow, openLoop } from './load';
import { CHAT_MODEL, FAIR_POOL, OUTPUT_TOKENS, PROMPT, capacityRps, poolBalancerConfig, simConfig } from './pool';

export interface FairnessSettings {
  /** The light key's rate, a fraction of the pool's capacity; the heavy key sends ten times it. */
  lightLoad: number;
  /** Each phase's length, unscaled ms. */
  phaseMs: number;
  timeScale: number;
  seed: number;
}

/** The heavy key's rate over the light key's. */
export const HEAVY_FACTOR = 10;

/**
 * A p99 wait alone below this (unscaled ms) is taken as this in the ratio: a handful of ms is the
 * hand-off from the queue to a freed slot, not waiting, and dividing by it says nothing.
 */
export const WAIT_FLOOR_MS = 10;

export interface KeyStats {
  requests: number;
  served: number;
  failed: number;
  queueP50Ms: number;
  queueP99Ms: number;
}

export interface FairnessRound {
  lightAlone: KeyStats;
  light: KeyStats;
  heavy: KeyStats;
  /** Light p99 queue wait with the heavy key ÷ alone, the latter floored at WAIT_FLOOR_MS (target ≤ 1.5). */
  lightP99Ratio: number;
  otherPct?: number;
  attempts?: number;
}

type Factory = Awaited<ReturnType<ReturnType<typeof PipelineFactory.fromConfig>['start']>>;

interface Tally {
  waits: number[];
  failed: number;
}

function sender(f: Factory, key: string, tally: Tally): () => Promise<void> {
  const pipeline = f.getPipeline();
  const req = InferenceRequest.ofChat(CHAT_MODEL, [{ role: 'user', content: PROMPT }], { options: { num_predict: OUTPUT_TOKENS } });
  return async () => {
    try {
      const res = await pipeline.submit(req, { clientKey: key });
      tally.waits.push(res.queueMs);
    } catch {
      // Over capacity, the heavy key's surplus times out in the queue (`queue.maxWaitMs`) or finds it full.
      tally.failed++;
    }
  };
}

function stats(t: Tally, ts: number): KeyStats {
  return {
    requests: t.waits.length + t.failed,
    served: t.waits.length,
    failed: t.failed,
    queueP50Ms: percentile(t.waits, 50) / ts,
    queueP99Ms: percentile(t.waits, 99) / ts,
  };
}

export async function runFairnessRound(s: FairnessSettings, round: number): Promise<FairnessRound> {
  const ts = s.timeScale;
  const lightRate = (capacityRps(FAIR_POOL) * s.lightLoad) / ts;
  const sim = await startSimProcess(simConfig(FAIR_POOL, ts));
  let factory: Factory | undefined;
  try {
    const f = await PipelineFactory.fromConfig(poolBalancerConfig(FAIR_POOL, sim.nodes, ts)).start();
    factory = f;
    const other = cpuWindow([sim.pid]);
    // Warm-up, so that the estimates start from the pool's own timings.
    const warm: Tally = { waits: [], failed: 0 };
    await Promise.all(Array.from({ length: 4 }, sender(f, 'warm-up', warm)));

    const alone: Tally = { waits: [], failed: 0 };
    const lightAlone = openLoop(lightRate, s.seed + round, sender(f, 'light', alone));
    await new Promise((r) => setTimeout(r, s.phaseMs * ts));
    await lightAlone.stop();

    const light: Tally = { waits: [], failed: 0 };
    const heavy: Tally = { waits: [], failed: 0 };
    const heavyLoad = openLoop(lightRate * HEAVY_FACTOR, s.seed + 2000 + round, sender(f, 'heavy', heavy));
    // The heavy key first fills the queue; the light key's requests then arrive into a saturated pool.
    await new Promise((r) => setTimeout(r, (s.phaseMs * ts) / 10));
    const lightLoad = openLoop(lightRate, s.seed + 1000 + round, sender(f, 'light', light));
    await new Promise((r) => setTimeout(r, s.phaseMs * ts));
    await Promise.all([lightLoad.stop(), heavyLoad.stop()]);
    const otherPct = other();

    const a = stats(alone, ts);
    const l = stats(light, ts);
    return {
      lightAlone: a,
      light: l,
      heavy: stats(heavy, ts),
      lightP99Ratio: l.queueP99Ms / Math.max(a.queueP99Ms, WAIT_FLOOR_MS),
      ...(otherPct !== undefined && { otherPct }),
    };
  } finally {
    await factory?.stop(1_000);
    await sim.close();
  }
}
