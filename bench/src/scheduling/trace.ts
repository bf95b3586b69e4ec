/**
 * The seeded workload: one list of requests with arrival times, replayed unchanged against every
 * strategy. Times are unscaled ms from the start of the trace.
 */
import { MODELS, estimateCapacity, meanTemplateTokens, type CapacityEstimate } from './pool';
import { exponential, logUniformInt, mulberry32, pick, zipfWeights } from './rng';

/** The distributions a trace is drawn from; their means feed the capacity estimate. */
export const WORKLOAD = {
  zipfS: 1.1,
  /** Prompt size, log-uniform tokens (the balancer and the sim both count ~4 characters a token). */
  promptTokens: { lo: 16, hi: 1024 },
  /** Output length (`num_predict`): a mix of short answers and a long tail. */
  outputShort: { lo: 16, hi: 80, share: 0.65 },
  outputLong: { lo: 80, hi: 320 },
  streamShare: 0.5,
  /** Requests that ask for another `num_ctx`: Ollama must reload the model for them. */
  bigContextShare: 0.03,
  bigContext: 8192,
  /** Share of requests sent as /api/chat rather than /api/generate. */
  chatShare: 0.5,
  /** Arrival rate of each phase as a fraction of the capacity estimate. */
  steadyLoad: 0.8,
  burstLoad: 1.5,
} as const;

export interface TraceRequest {
  id: number;
  /** Unscaled ms from the start of the trace. */
  atMs: number;
  phase: 'steady' | 'burst';
  model: string;
  chat: boolean;
  stream: boolean;
  prompt: string;
  promptTokens: number;
  numPredict: number;
  /** Set on the few requests that force a reload; undefined = the node default (4096). */
  numCtx?: number;
}

export interface Trace {
  seed: number;
  capacity: CapacityEstimate;
  steadyRps: number;
  burstRps: number;
  steadyMs: number;
  burstMs: number;
  requests: TraceRequest[];
}

/** Mean of a log-uniform distribution on [lo, hi]. */
function logUniformMean(lo: number, hi: number): number {
  return (hi - lo) / Math.log(hi / lo);
}

export function meanPromptTokens(): number {
  return logUniformMean(WORKLOAD.promptTokens.lo, WORKLOAD.promptTokens.hi);
}

export function meanOutputTokens(): number {
  const s = WORKLOAD.outputShort;
  const l = WORKLOAD.outputLong;
  return s.share * logUniformMean(s.lo, s.hi) + (1 - s.share) * logUniformMean(l.lo, l.hi);
}

export function modelPopularity(): number[] {
  return zipfWeights(MODELS.length, WORKLOAD.zipfS);
}

// Filler text for prompts; each prompt starts with its id so that no two are alike.
const WORDS = 'why is the sky blue explain briefly how a river finds the sea and what the clouds carry over the hills '.repeat(200);

function promptOf(id: number, tokens: number): string {
  const head = `#${id} `;
  const chars = Math.max(head.length, tokens * 4);
  return head + WORDS.slice(0, chars - head.length);
}

/**
 * Draws the trace: Poisson arrivals at `steadyLoad` × capacity for `steadyMs`, then at
 * `burstLoad` × capacity for `burstMs`; each request's model by Zipf popularity, its prompt size,
 * output length, stream flag, route and (rarely) a larger `num_ctx`, all from one seeded PRNG.
 */
export function buildTrace(
  seed: number,
  steadyMs: number,
  burstMs: number,
  loads: { steady: number; burst: number } = { steady: WORKLOAD.steadyLoad, burst: WORKLOAD.burstLoad },
): Trace {
  const popularity = modelPopularity();
  const capacity = estimateCapacity(popularity, meanPromptTokens() + meanTemplateTokens(WORKLOAD.chatShare), meanOutputTokens());
  const steadyRps = loads.steady * capacity.rps;
  const burstRps = loads.burst * capacity.rps;
  const rnd = mulberry32(seed);
  const requests: TraceRequest[] = [];
  let t = 0;
  for (;;) {
    const inBurst = t >= steadyMs;
    t += exponential(rnd, (inBurst ? burstRps : steadyRps) / 1000);
    if (t >= steadyMs + burstMs) break;
    const id = requests.length;
    const model = MODELS[pick(rnd, popularity)].name;
    const promptTokens = logUniformInt(rnd, WORKLOAD.promptTokens.lo, WORKLOAD.promptTokens.hi);
    const o = rnd() < WORKLOAD.outputShort.share ? WORKLOAD.outputShort : WORKLOAD.outputLong;
    const numPredict = logUniformInt(rnd, o.lo, o.hi);
    const stream = rnd() < WORKLOAD.streamShare;
    const chat = rnd() < WORKLOAD.chatShare;
    const big = rnd() < WORKLOAD.bigContextShare;
    requests.push({
      id,
      atMs: t,
      phase: t >= steadyMs ? 'burst' : 'steady',
      model,
      chat,
      stream,
      prompt: promptOf(id, promptTokens),
      promptTokens,
      numPredict,
      ...(big && { numCtx: WORKLOAD.bigContext }),
    });
  }
  return { seed, capacity, steadyRps, burstRps, steadyMs, burstMs, requests };
}
