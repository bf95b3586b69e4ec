import { PipelineStateError } from '../errors';
import { SpscByteReader, createSpscByteRing, type ByteArena } from '@ollama-ring/disruptor';
import { Worker } from 'node:worker_threads';
import { UpstreamError, UpstreamTimeoutError } from '../errors';
import type { FinalChunkStats } from '../scheduler/estimates';
import { workerEntry } from '../worker-entry';
import type { DispatchJob, DispatchOutcome, DispatchPort, NodeEndpoint } from './dispatch-types';
import {
  FRAME_CHUNK,
  FRAME_HEADER_BYTES,
  FRAME_OUTCOME,
  FRAME_START,
  type DispatchWorkerData,
  type ToDispatchWorker,
  type ToDispatchWorkerBatch,
  type WireOutcome,
} from './dispatch-protocol';

interface Pending {
  job: DispatchJob;
  resolve: (o: DispatchOutcome) => void;
  started: boolean;
  paused: boolean;
  thread: Thread;
  onAbort: () => void;
}

interface Thread {
  worker: Worker;
  /** Messages of the current task, sent together when it ends. */
  outbox: ToDispatchWorker[];
  reader: SpscByteReader;
  inFlight: number;
  alive: boolean;
  pump: Promise<void>;
}

const RING_BYTES = 1 << 22;
const decoder = new TextDecoder();

/**
 * Dispatch on worker threads. Each thread runs undici and reads bodies in place from the shared
 * arena; responses come back through one SPSC byte ring per thread and are handed to the same
 * sinks inline dispatch uses. A request goes to the thread with the fewest in flight. A thread
 * that dies fails its requests (retryable when nothing reached the client) and is not reused.
 *
 * @example
 * const d = new WorkerDispatcher(arena, { threads: 2, connectTimeoutMs: 10_000 });
 * d.setNodes(nodes); await d.dispatch(job);
 */
export class WorkerDispatcher implements DispatchPort {
  private readonly threads: Thread[] = [];
  private readonly pending = new Map<number, Pending>();
  private nodes: NodeEndpoint[] = [];
  private closed = false;

  constructor(
    private readonly arena: ByteArena,
    opts: { threads: number; connectTimeoutMs: number },
  ) {
    for (let i = 0; i < Math.max(1, opts.threads); i++) this.threads.push(this.spawn(opts.connectTimeoutMs, i));
  }

  setNodes(nodes: readonly NodeEndpoint[]): void {
    this.nodes = [...nodes];
    this.broadcast({ type: 'nodes', nodes: this.nodes });
  }

  dispatch(job: DispatchJob): Promise<DispatchOutcome> {
    const thread = this.pick();
    if (!thread || this.closed) {
      return Promise.resolve({
        kind: 'failed',
        error: new UpstreamError(job.nodeId, 0, 'no dispatch thread is available'),
        started: false,
        refused: false,
        latencyMs: 0,
        ttftMs: 0,
      });
    }
    if (job.signal.aborted) return Promise.resolve({ kind: 'aborted', started: false, latencyMs: 0 });
    return new Promise<DispatchOutcome>((resolve) => {
      const onAbort = () => this.post(thread, { type: 'abort', id: job.requestId });
      job.signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(job.requestId, { job, resolve, started: false, paused: false, thread, onAbort });
      thread.inFlight++;
      const body = job.body;
      // The arena's buffer is shared with the thread; it reads the body where it lies.
      if (body.buffer !== this.arena.sab) throw new PipelineStateError('dispatch body must live in the shared arena');
      this.post(thread, {
        type: 'dispatch',
        id: job.requestId,
        nodeId: job.nodeId,
        route: job.route,
        bodyByteOffset: body.byteOffset,
        bodyLength: body.byteLength,
        timeouts: job.timeouts,
        assemble: job.assemble,
        trace: job.trace,
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.broadcast({ type: 'close' });
    await Promise.all(
      this.threads.map(async (t) => {
        const exited = new Promise<void>((r) => (t.alive ? t.worker.once('exit', () => r()) : r()));
        const timer = setTimeout(() => void t.worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
        t.reader.cancel();
        await t.pump;
      }),
    );
  }

  private spawn(connectTimeoutMs: number, index: number): Thread {
    const ring = createSpscByteRing(RING_BYTES);
    const data: DispatchWorkerData = { arena: this.arena.sab, ring, connectTimeoutMs, nodes: this.nodes };
    const worker = new Worker(workerEntry('stages/dispatch-worker.js'), { workerData: data, name: `dispatch-${index + 1}` });
    const thread: Thread = { worker, outbox: [], reader: SpscByteReader.attach(ring), inFlight: 0, alive: true, pump: Promise.resolve() };
    thread.pump = this.pumpFrames(thread);
    worker.on('error', (e) => this.threadDied(thread, e.message));
    worker.on('exit', (code) => this.threadDied(thread, `exited with code ${code}`));
    return thread;
  }

  /** Reads frames from a thread's ring for as long as the thread lives. */
  private async pumpFrames(t: Thread): Promise<void> {
    for (;;) {
      const state = await t.reader.readable();
      if (state === 'end') return;
      t.reader.drain((data, off, len) => this.onFrame(data, off, len));
    }
  }

  private onFrame(data: Uint8Array, off: number, len: number): void {
    const kind = data[off];
    const id = data[off + 4] | (data[off + 5] << 8) | (data[off + 6] << 16) | (data[off + 7] << 24);
    const p = this.pending.get(id);
    if (!p) return;
    const payload = data.subarray(off + FRAME_HEADER_BYTES, off + len);
    if (kind === FRAME_START) {
      const { status, headers } = JSON.parse(decoder.decode(payload)) as { status: number; headers: Record<string, string> };
      p.started = true;
      p.job.sink.onStart(status, headers);
    } else if (kind === FRAME_CHUNK) {
      // The ring's bytes are reused once released: the sink gets its own copy.
      const more = p.job.sink.onChunk(Buffer.from(payload));
      if (more === false && !p.paused) this.pause(p);
    } else if (kind === FRAME_OUTCOME) {
      this.settle(id, fromWire(JSON.parse(decoder.decode(payload)) as WireOutcome));
    }
  }

  /** A slow client: stop this request upstream until its socket drains; other requests go on. */
  private pause(p: Pending): void {
    p.paused = true;
    this.post(p.thread, { type: 'pause', id: p.job.requestId });
    const drained = p.job.sink.drained?.() ?? Promise.resolve();
    void drained.then(() => {
      p.paused = false;
      if (this.pending.has(p.job.requestId)) this.post(p.thread, { type: 'resume', id: p.job.requestId });
    });
  }

  private settle(id: number, outcome: DispatchOutcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.thread.inFlight--;
    p.job.signal.removeEventListener('abort', p.onAbort);
    p.resolve(outcome);
  }

  private threadDied(t: Thread, why: string): void {
    if (!t.alive) return;
    t.alive = false;
    for (const [id, p] of [...this.pending]) {
      if (p.thread !== t) continue;
      this.settle(id, {
        kind: 'failed',
        error: new UpstreamError(p.job.nodeId, 0, `dispatch thread ${why}`),
        started: p.started,
        refused: false,
        latencyMs: 0,
        ttftMs: 0,
      });
    }
    if (!this.closed) t.reader.cancel();
  }

  private pick(): Thread | undefined {
    let best: Thread | undefined;
    for (const t of this.threads) if (t.alive && (!best || t.inFlight < best.inFlight)) best = t;
    return best;
  }

  /** Queues a message for the thread; the task's messages leave together, in order, at its end. */
  private post(t: Thread, msg: ToDispatchWorker): void {
    if (!t.alive) return;
    t.outbox.push(msg);
    if (t.outbox.length === 1) void Promise.resolve().then(() => this.flush(t));
  }

  private flush(t: Thread): void {
    const batch: ToDispatchWorkerBatch = t.outbox;
    t.outbox = [];
    if (t.alive && batch.length > 0) t.worker.postMessage(batch);
  }

  private broadcast(msg: ToDispatchWorker): void {
    for (const t of this.threads) this.post(t, msg);
  }
}

function fromWire(w: WireOutcome): DispatchOutcome {
  switch (w.kind) {
    case 'ok':
      return { ...w, started: true, final: w.final as FinalChunkStats | undefined };
    case 'http-error':
      return { ...w, started: false };
    case 'aborted':
      return w;
    case 'failed': {
      const e = w.error;
      const error = e.timeout ? new UpstreamTimeoutError(e.nodeId, e.timeout, e.timeoutMs ?? 0) : new UpstreamError(e.nodeId, e.status, e.message);
      if (e.timeout) Object.defineProperty(error, 'message', { value: e.message });
      return { ...w, error };
    }
  }
}
