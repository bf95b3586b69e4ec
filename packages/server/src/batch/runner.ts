import { randomBytes } from 'node:crypto';
import { BalancerError, type CallOptions, isPoolRefusal, type RawRequest, type ResponseSink, sleepUnless } from '@ollama-ring/balancer';
import { errorBody, flavorOfPath, isErrorBody, Route, toJson } from '@ollama-ring/protocol';
import { BATCH_ENDPOINTS, type BatchLine, type ResultLine } from './types';

/** What the runner needs of a pipeline (a `Pipeline` is one). */
export interface BatchPipeline {
  execute(req: RawRequest, sink: ResponseSink, opts?: CallOptions): number;
}

/** How one line ended. */
export interface LineResult {
  custom_id: string;
  /** The HTTP status its request got: 2xx is a success. */
  status: number;
  /** The answer, or the error body in the line's API shape (OpenAI's for `/v1/…`, Ollama's otherwise). */
  body: unknown;
  /** Why it failed, when it did. */
  error?: BalancerError;
  /** It failed because the run's `signal` aborted it (a cancelled job). */
  aborted: boolean;
}

export interface BatchRunnerOptions {
  /** Lines in the pipeline at once (a function is read before each line starts). Default 4. */
  concurrency?: number | (() => number);
  /** The client the lines are counted against (per-client rate limits). */
  clientKey?: string;
}

export interface RunOptions {
  /** Cancels: no line starts after it aborts, and the running ones are aborted. */
  signal?: AbortSignal;
  /** Stops: no line starts after it aborts; the running ones finish. */
  stop?: AbortSignal;
}

/** What a run did. */
export interface RunSummary {
  completed: number;
  failed: number;
  /** True when it halted (cancelled or stopped) before reaching the last line. */
  stopped: boolean;
}

const GENERATION = new Set([Route.Generate, Route.Chat, Route.OpenAIChat, Route.OpenAICompletions]);

/**
 * Runs batch lines through a pipeline, `concurrency` at a time, each as a request of class
 * `batch` (the scheduler serves them from capacity no interactive request wants, and places them
 * as any other). A line whose node fails is retried by the pipeline's own rules (`retry.*`), not
 * here; a line the pool as a whole refuses at once (ring, queue or rate limit full) waits and is
 * offered again, since nothing ran it. Each line gets one result, given to `onResult`, which the
 * run awaits before the line counts as done: a store records it there.
 *
 * @example
 * const runner = new BatchRunner(pipeline, { concurrency: 8 });
 * await runner.run(lines, (r) => console.log(r.custom_id, r.status));
 */
export class BatchRunner {
  constructor(
    private readonly pipeline: BatchPipeline | (() => BatchPipeline),
    private readonly opts: BatchRunnerOptions = {},
  ) {}

  async run(lines: AsyncIterable<BatchLine> | Iterable<BatchLine>, onResult: (r: LineResult) => void | Promise<void>, run: RunOptions = {}): Promise<RunSummary> {
    const summary: RunSummary = { completed: 0, failed: 0, stopped: false };
    const running = new Set<Promise<void>>();
    const halted = () => run.signal?.aborted === true || run.stop?.aborted === true;
    const it = (Symbol.asyncIterator in lines ? lines[Symbol.asyncIterator]() : lines[Symbol.iterator]()) as AsyncIterator<BatchLine> | Iterator<BatchLine>;
    let failure: unknown;
    try {
      for (;;) {
        while (running.size >= Math.max(1, this.concurrency())) await Promise.race(running);
        if (failure !== undefined) throw failure;
        if (halted()) {
          summary.stopped = true;
          break;
        }
        const next = await it.next();
        if (next.done) break;
        const p = this.runLine(next.value, run)
          .then(async (r) => {
            await onResult(r);
            if (r.error) summary.failed++;
            else summary.completed++;
          })
          .catch((e: unknown) => void (failure ??= e))
          .finally(() => running.delete(p));
        running.add(p);
      }
    } finally {
      await Promise.all(running);
      await it.return?.();
    }
    if (failure !== undefined) throw failure;
    return summary;
  }

  /**
   * One result line in OpenAI's shape: `response` with the status and body, `error` null (a
   * failed request's answer goes to the error file in that same shape, as OpenAI's does).
   */
  static resultLine(r: LineResult): ResultLine {
    return {
      id: `batch_req_${randomBytes(12).toString('hex')}`,
      custom_id: r.custom_id,
      response: { status_code: r.status, request_id: `req_${randomBytes(12).toString('hex')}`, body: r.body },
      error: null,
    };
  }

  private concurrency(): number {
    const c = this.opts.concurrency ?? 4;
    return typeof c === 'function' ? c() : c;
  }

  private async runLine(line: BatchLine, run: RunOptions): Promise<LineResult> {
    const { signal, stop } = run;
    let wait = 50;
    for (;;) {
      const r = await this.attempt(line, signal);
      if (!(r.error && isPoolRefusal(r.error)) || signal?.aborted || stop?.aborted) return r;
      const retryMs = (r.error.retryAfterSec ?? 0) * 1000;
      // A stop ends the wait too: the line is then left with the refusal, not offered again.
      await sleepUnless(Math.min(Math.max(wait, retryMs), 5_000), signal, stop);
      wait = Math.min(wait * 2, 1_000);
      if (signal?.aborted) return { ...r, aborted: true };
      if (stop?.aborted) return r;
    }
  }

  private attempt(line: BatchLine, signal: AbortSignal | undefined): Promise<LineResult> {
    const route = BATCH_ENDPOINTS[line.url];
    const flavor = flavorOfPath(line.url);
    // A batch line is answered whole: the generation routes are asked not to stream.
    const body = GENERATION.has(route) ? { ...line.body, stream: false } : line.body;
    const bytes = Buffer.from(toJson(body));
    return new Promise<LineResult>((resolve) => {
      const parts: Buffer[] = [];
      let status = 200;
      const failed = (e: BalancerError): void => {
        const upstream = (e as BalancerError & { body?: string }).body;
        const text = upstream && isErrorBody(upstream, flavor) ? upstream : errorBody(flavor, e.status, e.message);
        resolve({ custom_id: line.custom_id, status: e.status, body: parse(text), error: e, aborted: signal?.aborted === true });
      };
      const sink: ResponseSink = {
        onStart: (info) => void (status = info.status),
        onChunk: (chunk) => void parts.push(Buffer.from(chunk)),
        onEnd: () => resolve({ custom_id: line.custom_id, status, body: parse(Buffer.concat(parts).toString('utf8')), aborted: false }),
        onError: failed,
      };
      const pipeline = typeof this.pipeline === 'function' ? this.pipeline() : this.pipeline;
      try {
        pipeline.execute({ route, body: bytes }, sink, { signal, clientKey: this.opts.clientKey, requestClass: 'batch' });
      } catch (e) {
        failed(e instanceof BalancerError ? e : new BalancerError('ERR_INTERNAL', 500, e instanceof Error ? e.message : String(e)));
      }
    });
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
