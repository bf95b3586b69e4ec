/**
 * The load generator: N concurrent streaming `/api/generate` requests, spread over the nodes, each
 * recording when every token line arrives. Only the final line is parsed; token lines are counted
 * by their newline, so the client spends as little as possible of the shared CPU.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface LoadOptions {
  urls: string[];
  streams: number;
  tokens: number;
  /** Start times spread evenly over this many ms. */
  rampMs: number;
}

export interface StreamResult {
  /** Arrival times (ms, monotonic) of each token line. */
  arrivals: Float64Array;
  count: number;
  /** From the final chunk. */
  evalCount: number;
  evalDurationNs: number;
  doneReason: string;
  error?: string;
}

const NL = 0x0a;

/**
 * One stream through undici's low-level `dispatch`: callbacks instead of a Readable and an async
 * iterator, which at 25k chunks/s is a visible share of the two cores the sim also needs.
 */
function oneStream(pool: Pool, tokens: number, index: number): Promise<StreamResult> {
  const arrivals = new Float64Array(tokens + 1);
  let count = 0;
  let status = 0;
  // The last few chunks, enough to hold the done line whatever the chunking.
  const recent: Buffer[] = [];
  let recentBytes = 0;
  return new Promise<StreamResult>((resolve) => {
    const finish = (error?: string): void => {
      const text = Buffer.concat(recent).toString('utf8').trimEnd();
      if (status !== 200 || error) {
        resolve({ arrivals, count: 0, evalCount: 0, evalDurationNs: 0, doneReason: '', error: error ?? `${status} ${text}` });
        return;
      }
      const tail = text.slice(text.lastIndexOf('\n') + 1);
      let done: { eval_count?: number; eval_duration?: number; done_reason?: string; error?: string } = {};
      try {
        done = JSON.parse(tail) as typeof done;
      } catch {
        done = { error: `unparsable last line: ${tail.slice(0, 200)}` };
      }
      // The last line is the done chunk, not a token.
      resolve({
        arrivals,
        count: count - 1,
        evalCount: done.eval_count ?? 0,
        evalDurationNs: done.eval_duration ?? 0,
        doneReason: done.done_reason ?? '',
        error: done.error,
      });
    };
    pool.dispatch(
      {
        path: '/api/generate',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // raw: no `context` array in the done line, which would otherwise carry every token id.
        body: JSON.stringify({ model: 'bench-model:1b', prompt: `stream ${index}: tell me something`, raw: true, options: { num_predict: tokens } }),
      },
      {
        onConnect: () => undefined,
        onHeaders: (statusCode: number) => {
          status = statusCode;
          return true;
        },
        onData: (chunk: Buffer) => {
          const now = performance.now();
          for (let i = chunk.indexOf(NL); i >= 0; i = chunk.indexOf(NL, i + 1)) {
            if (count < arrivals.length) arrivals[count] = now;
            count++;
          }
          recent.push(chunk);
          recentBytes += chunk.length;
          while (recent.length > 1 && recentBytes - recent[0].length > 4096) recentBytes -= (recent.shift() as Buffer).length;
          return true;
        },
        onComplete: () => finish(),
        onError: (err: Error) => finish(err.message),
      },
    );
  });
}

/** Runs every stream; resolves when all have ended. */
export async function runLoad(opts: LoadOptions): Promise<{ results: StreamResult[]; startMs: number; endMs: number }> {
  const perNode = Math.ceil(opts.streams / opts.urls.length);
  const pools = opts.urls.map((u) => new Pool(u, { connections: perNode, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 }));
  const startMs = performance.now();
  try {
    const results = await Promise.all(
      Array.from({ length: opts.streams }, async (_, i) => {
        const delay = (i * opts.rampMs) / opts.streams;
        await new Promise((r) => setTimeout(r, delay));
        return oneStream(pools[i % pools.length], opts.tokens, i);
      }),
    );
    return { results, startMs, endMs: performance.now() };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}
