import type { Dispatcher as UndiciDispatcher } from 'undici';
import { UpstreamError, UpstreamTimeoutError } from '../errors';
import type { DispatchJob, DispatchOutcome } from '../stages/dispatch-types';
import { FinalChunkTracker, type NetworkErrorClass, classifyNetworkError, errorMessageIn } from '@ollama-ring/protocol';
import { assemble } from './assembler';
import { statsOf } from './final-stats';
import { stripHopByHop } from './hop-by-hop';
import { certificateHint } from '../nodes/node-tls';

const MAX_ERROR_BODY = 64 * 1024;
/**
 * The body is passed on byte for byte, so its `Content-Length` still holds: keeping it spares the
 * client chunked framing, and spares the gateway the separate write of the chunked terminator.
 */
const KEEP_LENGTH: ReadonlySet<string> = new Set();

/**
 * One request to one node, driven by undici's handler callbacks rather than a response stream:
 * each chunk goes from the parser to the sink in one call, with no stream, async iterator or
 * AbortSignal of its own in between (measured per chunk, those were most of what dispatch cost
 * beyond the socket writes). Settles exactly once, with the outcome the scheduler judges.
 *
 * A slow client pauses the upstream read (undici stops reading that socket) until the sink drains;
 * an abort or the total timeout ends the exchange whatever it is waiting on.
 */
export class UpstreamExchange implements UndiciDispatcher.DispatchHandler {
  private controller?: UndiciDispatcher.DispatchController;
  private started = false;
  private ttftMs = 0;
  private status = 0;
  private errorParts?: Buffer[];
  private errorBytes = 0;
  private tracker?: FinalChunkTracker;
  /** The stream of a non-streamed request being assembled (`job.assemble`), and its headers. */
  private parts?: Buffer[];
  private partHeaders?: Record<string, string>;
  private timer?: NodeJS.Timeout;
  private timedOut = false;
  private settled = false;

  constructor(
    private readonly job: DispatchJob,
    private readonly t0: number,
    private readonly resolve: (o: DispatchOutcome) => void,
  ) {}

  /** Sends the request on `pool`; `path` is the node's base path plus the route. */
  send(pool: UndiciDispatcher, path: string, headers: Record<string, string>): void {
    const job = this.job;
    job.signal.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(this.onTotalTimeout, job.timeouts.totalMs);
    try {
      pool.dispatch(
        {
          path,
          method: 'POST',
          headers,
          body: Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength),
          headersTimeout: job.timeouts.firstByteMs,
          bodyTimeout: job.timeouts.idleMs,
        },
        this,
      );
    } catch (err) {
      this.fail(err);
    }
  }

  onRequestStart(controller: UndiciDispatcher.DispatchController): void {
    this.controller = controller;
    if (this.job.signal.aborted) controller.abort(this.abortReason());
    else if (this.timedOut) controller.abort(this.totalTimeout());
  }

  onResponseStart(_c: UndiciDispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return; // an informational 1xx; the real response follows
    if (status >= 400) {
      // Not forwarded: its body goes back to the scheduler, which retries elsewhere or passes it on.
      this.status = status;
      this.errorParts = [];
      return;
    }
    this.status = status;
    this.ttftMs = performance.now() - this.t0;
    const kept = stripHopByHop(headers, KEEP_LENGTH);
    if (this.job.assemble) {
      // Nothing reaches the client until the answer is whole: until then it can still go elsewhere.
      this.parts = [];
      this.partHeaders = kept;
      return;
    }
    this.tracker = new FinalChunkTracker(kept['content-type']);
    this.started = true;
    this.job.sink.onStart(status, kept);
  }

  onResponseData(controller: UndiciDispatcher.DispatchController, chunk: Buffer): void {
    if (this.errorParts) {
      if (this.errorBytes < MAX_ERROR_BODY) this.errorParts.push(chunk);
      this.errorBytes += chunk.length;
      return;
    }
    if (this.parts) {
      this.parts.push(chunk);
      return;
    }
    this.tracker!.push(chunk);
    const sink = this.job.sink;
    if (sink.onChunk(chunk) === false && sink.drained && !controller.paused) {
      controller.pause();
      void sink.drained().then(this.resumeIfLive);
    }
  }

  onResponseEnd(): void {
    const latencyMs = performance.now() - this.t0;
    if (this.errorParts) {
      const body = Buffer.concat(this.errorParts).subarray(0, MAX_ERROR_BODY).toString('utf8');
      this.settle({ kind: 'http-error', status: this.status, body, started: false, latencyMs });
      return;
    }
    if (this.parts) {
      this.endAssembled(latencyMs);
      return;
    }
    const last = this.tracker!.lastObject();
    const unterminated = this.tracker!.unterminated() || undefined;
    this.settle({ kind: 'ok', status: this.status, started: true, ttftMs: this.ttftMs, latencyMs, final: statsOf(last), inBandError: errorMessageIn(last), unterminated });
  }

  /** Sends the assembled answer as Ollama's own non-streamed one, or ends as the error Ollama would answer. */
  private endAssembled(latencyMs: number): void {
    const a = assemble(this.job.assemble!, this.parts!);
    if (!a.ok) {
      this.settle({ kind: 'http-error', status: 500, body: JSON.stringify({ error: a.error }), started: false, latencyMs });
      return;
    }
    const body = Buffer.from(a.body);
    const headers = this.partHeaders!;
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(body.length);
    this.started = true;
    this.job.sink.onStart(this.status, headers);
    this.job.sink.onChunk(body);
    this.settle({ kind: 'ok', status: this.status, started: true, ttftMs: this.ttftMs, latencyMs, final: statsOf(a.last) });
  }

  onResponseError(_c: UndiciDispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  private fail(err: unknown): void {
    const job = this.job;
    const latencyMs = performance.now() - this.t0;
    const started = this.started;
    if (this.timedOut) {
      this.settle({ kind: 'failed', error: this.totalTimeout(), started, refused: false, latencyMs, ttftMs: this.ttftMs });
    } else if (job.signal.aborted) {
      this.settle({ kind: 'aborted', started, latencyMs });
    } else {
      const c = classifyNetworkError(err);
      this.settle({ kind: 'failed', error: toUpstreamError(job, err, c), started, refused: c.kind === 'refused', latencyMs, ttftMs: this.ttftMs });
    }
  }

  private settle(outcome: DispatchOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.job.signal.removeEventListener('abort', this.onAbort);
    this.resolve(outcome);
  }

  private readonly onAbort = (): void => {
    this.controller?.abort(this.abortReason());
  };

  private readonly onTotalTimeout = (): void => {
    this.timedOut = true;
    this.controller?.abort(this.totalTimeout());
  };

  private readonly resumeIfLive = (): void => {
    if (!this.settled) this.controller?.resume();
  };

  private abortReason(): Error {
    const r: unknown = this.job.signal.reason;
    return r instanceof Error ? r : new Error('aborted');
  }

  private totalTimeout(): UpstreamTimeoutError {
    return new UpstreamTimeoutError(this.job.nodeId, 'total', this.job.timeouts.totalMs);
  }
}

/** The error a failed exchange ends with: a timeout of its phase, or a failure naming the code. */
function toUpstreamError(job: DispatchJob, err: unknown, c: NetworkErrorClass): UpstreamError {
  switch (c.phase) {
    case 'connect':
      return new UpstreamTimeoutError(job.nodeId, 'connect', 0);
    case 'first-byte':
      return new UpstreamTimeoutError(job.nodeId, 'first-byte', job.timeouts.firstByteMs);
    case 'idle':
      return new UpstreamTimeoutError(job.nodeId, 'idle', job.timeouts.idleMs);
    default: {
      const msg = err instanceof Error ? err.message : String(err);
      return new UpstreamError(job.nodeId, 0, `upstream ${job.nodeId} failed: ${c.code ? `${c.code} ` : ''}${msg}${certificateHint(c.code)}`, { cause: err });
    }
  }
}
