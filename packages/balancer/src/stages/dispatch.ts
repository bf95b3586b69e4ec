import { Pool } from 'undici';
import { ROUTE_PATHS, type Route } from '../events';
import { UpstreamError, UpstreamTimeoutError } from '../errors';
import type { FinalChunkStats } from '../scheduler/estimates';
import { FinalChunkTracker, statsOf } from './final-chunk';
import { untilSignal } from '../until-signal';
import { stripHopByHop } from './hop-by-hop';

/** The per-request timeouts dispatch enforces, in ms. */
export interface DispatchTimeouts {
  /** Headers (for Ollama streams: the first chunk). Adapted by the scheduler to a cold load. */
  firstByteMs: number;
  /** Longest gap between two chunks. */
  idleMs: number;
  /** The whole exchange. */
  totalMs: number;
}

/** Receives a successful response as it streams. */
export interface DispatchSink {
  /** First bytes are coming; from here on the request cannot be retried elsewhere. */
  onStart(status: number, headers: Record<string, string>): void;
  /** Returns false when the client is slow; dispatch then waits for `drained()`. */
  onChunk(chunk: Uint8Array): boolean | void;
  drained?(): Promise<void>;
}

export interface DispatchJob {
  requestId: number;
  nodeId: string;
  route: Route;
  /** The request body, typically a view of the byte arena (sent without another copy). */
  body: Uint8Array;
  timeouts: DispatchTimeouts;
  /** Aborts the upstream request (client gone, or the scheduler's own decision). */
  signal: AbortSignal;
  sink: DispatchSink;
}

/** How an upstream exchange ended. `started` says whether any byte reached the sink. */
export type DispatchOutcome =
  | { kind: 'ok'; status: number; started: true; ttftMs: number; latencyMs: number; final?: FinalChunkStats; inBandError?: string }
  | { kind: 'http-error'; status: number; body: string; started: false; latencyMs: number }
  | { kind: 'failed'; error: UpstreamError; started: boolean; refused: boolean; latencyMs: number; ttftMs: number }
  | { kind: 'aborted'; started: boolean; latencyMs: number };

/** Per-node connection settings. */
export interface NodeEndpoint {
  id: string;
  url: string;
  connections: number;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Sends requests upstream with undici, one connection pool per node (`pipelining: 1`: an LLM call
 * is long, and a request queued behind it on the same socket would wait for all of it), and
 * streams each successful response to its sink as it arrives, unbuffered. An upstream error status
 * is not forwarded: its body is returned so the scheduler can retry elsewhere or pass it on.
 *
 * @example
 * const d = new Dispatcher({ connectTimeoutMs: 10_000 });
 * d.setNodes([{ id: 'gpu-1', url: 'http://10.0.0.5:11434', connections: 4 }]);
 * const outcome = await d.dispatch(job);
 */
export class Dispatcher {
  private readonly pools = new Map<string, { url: string; connections: number; pool: Pool }>();

  constructor(private readonly opts: { connectTimeoutMs: number }) {}

  /** Creates, keeps or closes pools so that there is one per node, with matching sizes. */
  setNodes(nodes: readonly NodeEndpoint[]): void {
    const keep = new Set(nodes.map((n) => n.id));
    for (const [id, p] of this.pools) {
      if (!keep.has(id)) {
        this.pools.delete(id);
        void p.pool.close().catch(() => undefined);
      }
    }
    for (const n of nodes) {
      const cur = this.pools.get(n.id);
      if (cur && cur.url === n.url && cur.connections === n.connections) continue;
      if (cur) void cur.pool.close().catch(() => undefined);
      this.pools.set(n.id, {
        url: n.url,
        connections: n.connections,
        pool: new Pool(new URL(n.url).origin, {
          // Headroom over the slots, so a socket being torn down never holds up a new request.
          connections: n.connections + 2,
          pipelining: 1,
          connect: { timeout: this.opts.connectTimeoutMs },
          keepAliveTimeout: 30_000,
          // Per-request values are passed on each request; these are only the fallbacks.
          headersTimeout: 0,
          bodyTimeout: 0,
        }),
      });
    }
  }

  async dispatch(job: DispatchJob): Promise<DispatchOutcome> {
    const t0 = performance.now();
    const entry = this.pools.get(job.nodeId);
    if (!entry) {
      return {
        kind: 'failed',
        error: new UpstreamError(job.nodeId, 0, `node ${job.nodeId} is not in the pool`),
        started: false,
        refused: true,
        latencyMs: 0,
        ttftMs: 0,
      };
    }
    const total = new AbortController();
    const onAbort = () => total.abort(job.signal.reason);
    if (job.signal.aborted) return { kind: 'aborted', started: false, latencyMs: 0 };
    job.signal.addEventListener('abort', onAbort, { once: true });
    let totalTimedOut = false;
    const timer = setTimeout(() => {
      totalTimedOut = true;
      total.abort(new UpstreamTimeoutError(job.nodeId, 'total', job.timeouts.totalMs));
    }, job.timeouts.totalMs);
    let started = false;
    let ttftMs = 0;
    try {
      const base = new URL(entry.url);
      const res = await entry.pool.request({
        path: `${base.pathname.replace(/\/$/, '')}${ROUTE_PATHS[job.route]}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, application/x-ndjson, text/event-stream' },
        body: Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength),
        signal: total.signal,
        headersTimeout: job.timeouts.firstByteMs,
        bodyTimeout: job.timeouts.idleMs,
      });
      if (res.statusCode >= 400) {
        const body = await readCapped(res.body);
        return { kind: 'http-error', status: res.statusCode, body, started: false, latencyMs: performance.now() - t0 };
      }
      ttftMs = performance.now() - t0;
      const tracker = new FinalChunkTracker();
      job.sink.onStart(res.statusCode, stripHopByHop(res.headers));
      started = true;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        tracker.push(chunk);
        if (job.sink.onChunk(chunk) === false && job.sink.drained) {
          // A client that stops reading but keeps its socket open must not hold the slot past the
          // total timeout (or an abort): the wait for it to drain ends with either.
          await untilSignal(job.sink.drained(), total.signal);
          if (total.signal.aborted) throw total.signal.reason;
        }
      }
      const last = tracker.lastObject();
      const inBandError = typeof last?.error === 'string' ? last.error : undefined;
      return { kind: 'ok', status: res.statusCode, started: true, ttftMs, latencyMs: performance.now() - t0, final: statsOf(last), inBandError };
    } catch (err) {
      const latencyMs = performance.now() - t0;
      if (totalTimedOut) {
        return { kind: 'failed', error: new UpstreamTimeoutError(job.nodeId, 'total', job.timeouts.totalMs), started, refused: false, latencyMs, ttftMs };
      }
      if (job.signal.aborted) return { kind: 'aborted', started, latencyMs };
      return { kind: 'failed', error: classify(job, err), started, refused: isRefused(err), latencyMs, ttftMs };
    } finally {
      clearTimeout(timer);
      job.signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.pool.close().catch(() => undefined)));
  }
}


async function readCapped(body: AsyncIterable<Buffer> & { dump?: () => Promise<void> }): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    if (n < MAX_ERROR_BODY) parts.push(chunk);
    n += chunk.length;
  }
  return Buffer.concat(parts).subarray(0, MAX_ERROR_BODY).toString('utf8');
}

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return String(e?.code ?? e?.cause?.code ?? '');
}

function isRefused(err: unknown): boolean {
  const c = codeOf(err);
  return c === 'ECONNREFUSED' || c === 'EHOSTUNREACH' || c === 'ENETUNREACH' || c === 'ENOTFOUND';
}

function classify(job: DispatchJob, err: unknown): UpstreamError {
  const code = codeOf(err);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new UpstreamTimeoutError(job.nodeId, 'connect', 0);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new UpstreamTimeoutError(job.nodeId, 'first-byte', job.timeouts.firstByteMs);
    case 'UND_ERR_BODY_TIMEOUT':
      return new UpstreamTimeoutError(job.nodeId, 'idle', job.timeouts.idleMs);
    default: {
      const msg = err instanceof Error ? err.message : String(err);
      return new UpstreamError(job.nodeId, 0, `upstream ${job.nodeId} failed: ${code ? `${code} ` : ''}${msg}`, { cause: err });
    }
  }
}
