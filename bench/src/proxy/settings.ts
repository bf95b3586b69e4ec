/** The workload every target gets: models, request bodies, durations. */

/** Non-streaming requests: its tokens are "generated" instantly, so the sim adds no delay. */
export const FAST_MODEL = 'bench-fast';
/** Streaming requests: tokens paced like a real model, so each NDJSON line is its own event. */
export const STREAM_MODEL = 'bench-stream';

export const REQUEST_PATH = '/api/generate';
export const requestBody = JSON.stringify({ model: FAST_MODEL, prompt: 'Why is the sky blue?', stream: false });
export const streamBody = JSON.stringify({ model: STREAM_MODEL, prompt: 'Why is the sky blue?', stream: true });

export interface BenchSettings {
  /** Closed-loop concurrency of the non-streaming run (connections to the target). */
  connections: number;
  /** Concurrent streams of the streaming run. */
  streams: number;
  /** Pace of the streaming model; 50 tokens/s is a 20 ms gap between lines, a typical local LLM. */
  streamTokensPerSec: number;
  /** Tokens per answer. */
  tokens: number;
  warmupMs: number;
  measureMs: number;
  /** Passes over every target; the figures reported are medians over them. */
  rounds: number;
  /** A run during which other processes took more than this % of one core is measured again… */
  maxOtherPct: number;
  /** …up to this many times (0: never). */
  retries: number;
}

export function settingsFor(quick: boolean, flags: Map<string, string | true>): BenchSettings {
  const num = (key: string, def: number): number => {
    const v = flags.get(key);
    if (v === undefined) return def;
    const n = Number(v);
    if (v === true || !Number.isFinite(n) || n <= 0) throw new Error(`--${key} needs a positive number`);
    return n;
  };
  return {
    connections: num('connections', 64),
    streams: num('streams', 200),
    streamTokensPerSec: num('tokens-per-sec', 50),
    tokens: num('tokens', 16),
    warmupMs: num('warmup-ms', quick ? 1_000 : 2_000),
    measureMs: num('measure-ms', quick ? 3_000 : 5_000),
    rounds: num('rounds', quick ? 1 : 3),
    maxOtherPct: num('max-other-pct', 25),
    retries: flags.get('retries') === '0' ? 0 : num('retries', 2),
  };
}
