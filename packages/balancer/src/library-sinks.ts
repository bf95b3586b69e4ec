import { LineSplitter, inBandErrorOf, parseStreamLine } from '@ollama-ring/protocol';
import type { BalancerError } from './errors';
import { UpstreamError } from './errors';
import type { InferenceResponse } from './inference-request';
import { deliveredInBand, type EndInfo, type ResponseSink, type StartInfo } from './response-sink';

/** A sink that gathers the whole body and resolves with it parsed (non-streaming `submit`). */
export function collectingSink(): { sink: ResponseSink; result: Promise<InferenceResponse> } {
  const parts: Uint8Array[] = [];
  let start: StartInfo | undefined;
  let resolve!: (r: InferenceResponse) => void;
  let reject!: (e: BalancerError) => void;
  const result = new Promise<InferenceResponse>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const sink: ResponseSink = {
    onStart: (info) => void (start = info),
    onChunk: (chunk) => void parts.push(Uint8Array.from(chunk)),
    onEnd: () => {
      const text = Buffer.concat(parts).toString('utf8');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        reject(new UpstreamError(start?.nodeId ?? '', 502, `upstream sent a body that is not JSON: ${text.slice(0, 200)}`));
        return;
      }
      const res: InferenceResponse = { body, text: textOf(body), nodeId: start?.nodeId ?? '', queueMs: start?.queueMs ?? 0, retries: start?.retries ?? 0 };
      if (start?.fallbackFrom !== undefined) res.fallbackFrom = start.fallbackFrom;
      resolve(res);
    },
    onError: (e) => reject(e),
  };
  return { sink, result };
}

const HIGH_WATER = 64;

/**
 * A sink that yields each streamed object (NDJSON line, or SSE `data:` payload) as it arrives.
 * When the consumer falls `HIGH_WATER` objects behind, it asks dispatch to wait: the upstream
 * socket is then read no faster than the caller consumes.
 */
export function streamingSink(): { sink: ResponseSink; iterator: AsyncIterableIterator<Record<string, unknown>>; meta: () => StartInfo | undefined } {
  const queue: Record<string, unknown>[] = [];
  const lines = new LineSplitter();
  let done = false;
  let failure: BalancerError | undefined;
  let wake: (() => void) | undefined;
  let drainWaiter: (() => void) | undefined;
  let start: StartInfo | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  /** Whether the node's own error line is among the objects queued (thrown when reached). */
  let inBandQueued = false;
  const take = (line: string) => {
    // A torn or foreign line (or SSE's `[DONE]`) is not an object the caller asked for; skip it.
    const obj = parseStreamLine(line);
    if (!obj) return;
    queue.push(obj);
    if (inBandErrorOf(obj) !== undefined) inBandQueued = true;
  };
  const sink: ResponseSink = {
    onStart: (info) => void (start = info),
    onChunk: (chunk) => {
      for (const line of lines.push(chunk)) take(line);
      notify();
      return queue.length < HIGH_WATER;
    },
    drained: () => (queue.length < HIGH_WATER ? Promise.resolve() : new Promise<void>((r) => (drainWaiter = r))),
    onEnd: (_info: EndInfo) => {
      take(lines.end());
      done = true;
      notify();
    },
    onError: (e) => {
      // The node's own error line is in the stream already (a final line without its newline
      // included): the iterator throws it when it gets there, and only that once.
      if (deliveredInBand(e)) take(lines.end());
      if (!deliveredInBand(e) || !inBandQueued) failure = e;
      done = true;
      notify();
    },
  };
  const iterator: AsyncIterableIterator<Record<string, unknown>> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      for (;;) {
        if (queue.length > 0) {
          const value = queue.shift()!;
          if (queue.length < HIGH_WATER && drainWaiter) {
            const d = drainWaiter;
            drainWaiter = undefined;
            d();
          }
          // An Ollama error line mid-stream ends the stream with that error, as the ollama client does.
          const inBand = inBandErrorOf(value);
          if (inBand !== undefined) throw new UpstreamError(start?.nodeId ?? '', 500, inBand);
          return { value, done: false };
        }
        if (failure) throw failure;
        if (done) return { value: undefined, done: true };
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
  return { sink, iterator, meta: () => start };
}

function textOf(body: Record<string, unknown>): string {
  if (typeof body.response === 'string') return body.response;
  const msg = body.message as { content?: unknown } | undefined;
  if (msg && typeof msg.content === 'string') return msg.content;
  const choices = body.choices as { message?: { content?: unknown }; text?: unknown }[] | undefined;
  if (Array.isArray(choices) && choices[0]) {
    if (typeof choices[0].message?.content === 'string') return choices[0].message.content;
    if (typeof choices[0].text === 'string') return choices[0].text;
  }
  return '';
}
