/**
 * Entry of a dispatch worker thread: runs the same undici `Dispatcher` as inline dispatch, reads
 * request bodies in place from the shared arena, and streams each response back to the main
 * thread through its SPSC byte ring as START, CHUNK and OUTCOME frames. The ring's capacity is the
 * worker's credit: when the main thread falls behind, `write` waits, and so does the upstream read.
 * A slow client pauses only its own request (a `pause` message), never the others in the ring.
 */
import { Cancel } from '../upstream/cancel';
import { SpscByteWriter } from '@ollama-ring/disruptor';
import { parentPort, workerData } from 'node:worker_threads';
import { UpstreamTimeoutError } from '../errors';
import { Dispatcher } from './dispatch';
import type { DispatchOutcome } from './dispatch-types';
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

const data = workerData as DispatchWorkerData;
const writer = SpscByteWriter.attach(data.ring);
const dispatcher = new Dispatcher({ connectTimeoutMs: data.connectTimeoutMs });
dispatcher.setNodes(data.nodes);
const encoder = new TextEncoder();

interface Live {
  abort: Cancel;
  paused: boolean;
  resume?: () => void;
}
const live = new Map<number, Live>();

/** Frames stay in order: once one has had to wait for ring space, later ones queue behind it. */
let tail: Promise<void> = Promise.resolve();
let waiting = 0;

/**
 * Writes one frame. Straight into the ring when there is room (no staging copy); otherwise it is
 * queued behind the ring's credit and false is returned, so that dispatch stops reading upstream
 * until the main thread has caught up.
 */
function frame(kind: number, id: number, payload: Uint8Array): boolean {
  const length = FRAME_HEADER_BYTES + payload.length;
  if (waiting === 0) {
    const at = writer.tryReserve(length);
    if (at >= 0) {
      writeFrame(writer.data, at, kind, id, payload);
      writer.commit();
      return true;
    }
  }
  const bytes = new Uint8Array(length);
  writeFrame(bytes, 0, kind, id, payload);
  waiting++;
  tail = tail.then(() => writer.write(bytes)).finally(() => void waiting--);
  return false;
}

function writeFrame(into: Uint8Array, at: number, kind: number, id: number, payload: Uint8Array): void {
  into[at] = kind;
  into[at + 1] = into[at + 2] = into[at + 3] = 0;
  into[at + 4] = id & 0xff;
  into[at + 5] = (id >>> 8) & 0xff;
  into[at + 6] = (id >>> 16) & 0xff;
  into[at + 7] = (id >>> 24) & 0xff;
  into.set(payload, at + FRAME_HEADER_BYTES);
}

function wire(o: DispatchOutcome): WireOutcome {
  if (o.kind !== 'failed') return o as WireOutcome;
  const e = o.error;
  return {
    ...o,
    error: {
      nodeId: e.nodeId,
      status: e.upstreamStatus,
      message: e.message,
      timeout: e instanceof UpstreamTimeoutError ? e.phase : undefined,
    },
  };
}

async function run(msg: Extract<ToDispatchWorker, { type: 'dispatch' }>): Promise<void> {
  const entry: Live = { abort: new Cancel(), paused: false };
  live.set(msg.id, entry);
  try {
    const outcome = await dispatcher.dispatch({
      requestId: msg.id,
      nodeId: msg.nodeId,
      route: msg.route,
      body: new Uint8Array(data.arena, msg.bodyByteOffset, msg.bodyLength),
      timeouts: msg.timeouts,
      assemble: msg.assemble,
      trace: msg.trace,
      signal: entry.abort,
      sink: {
        onStart: (status, headers) => void frame(FRAME_START, msg.id, encoder.encode(JSON.stringify({ status, headers }))),
        onChunk: (chunk) => frame(FRAME_CHUNK, msg.id, chunk) && !entry.paused,
        drained: async () => {
          await tail;
          if (entry.paused) await new Promise<void>((r) => (entry.resume = r));
        },
      },
    });
    frame(FRAME_OUTCOME, msg.id, encoder.encode(JSON.stringify(wire(outcome))));
    await tail;
  } finally {
    live.delete(msg.id);
  }
}

parentPort!.on('message', (batch: ToDispatchWorkerBatch) => {
  for (const msg of batch) onMessage(msg);
});

function onMessage(msg: ToDispatchWorker): void {
  switch (msg.type) {
    case 'dispatch':
      void run(msg);
      break;
    case 'abort':
      live.get(msg.id)?.abort.abort();
      break;
    case 'pause': {
      const e = live.get(msg.id);
      if (e) e.paused = true;
      break;
    }
    case 'resume': {
      const e = live.get(msg.id);
      if (e) {
        e.paused = false;
        e.resume?.();
        e.resume = undefined;
      }
      break;
    }
    case 'nodes':
      dispatcher.setNodes(msg.nodes);
      break;
    case 'close':
      for (const e of live.values()) e.abort.abort();
      void tail
        .then(() => dispatcher.close())
        .finally(() => {
          writer.close();
          parentPort!.close();
        });
      break;
  }
}
