import type { ResourceLimits } from 'node:worker_threads';
import type { BarrierDescriptor } from '../sequence-barrier';
import type { RingBufferDescriptor } from '../ring-buffer';

/**
 * A handler that runs on a worker thread: the module is loaded there (it must be compiled JS, as
 * neither Node 20 nor jest loads a .ts worker), and its export is called with `options` to build
 * the handler.
 *
 * @example
 * d.handleEventsWith({ module: require.resolve('./dist/validate.js'), export: 'createHandler', options: { max: 10 } });
 */
export interface WorkerHandlerSpec {
  /** Absolute path (or resolvable specifier) of a CommonJS or ES module. */
  module: string;
  /** Name of the factory export. Default `createHandler`. */
  export?: string;
  /** Postable data handed to the factory. */
  options?: unknown;
  /**
   * `blocking`: the loop sleeps in `Atomics.wait`; cheapest, but the thread's event loop is frozen,
   * so the handler must not do I/O or use timers. `event-loop`: the loop awaits `Atomics.waitAsync`
   * between batches, so the handler may do I/O (an HTTP client, timers). Default `blocking`.
   */
  mode?: 'blocking' | 'event-loop';
  /** V8 heap limits for the thread. */
  resourceLimits?: ResourceLimits;
  /** A name for logs and errors. */
  name?: string;
  /** Receives whatever the handler posts through its context (results, metrics). Main thread only. */
  onMessage?: (message: unknown) => void;
}

/** What a worker-thread handler factory receives besides its options. */
export interface WorkerHandlerContext {
  /** Sends a message to the spec's `onMessage` on the main thread. */
  postMessage(message: unknown): void;
  readonly name: string;
  readonly threadId: number;
}

/** workerData of a handler thread. */
export interface HandlerWorkerData {
  kind: 'batch' | 'work';
  name: string;
  ring: RingBufferDescriptor;
  barrier: BarrierDescriptor;
  sequence: SharedArrayBuffer;
  workSequence?: SharedArrayBuffer;
  module: string;
  exportName: string;
  options: unknown;
  mode: 'blocking' | 'event-loop';
  maxBatchSize?: number;
}

/** Messages from a handler thread to its host. */
export type WorkerToHost =
  | { type: 'ready' }
  | { type: 'handler-error'; phase: 'event' | 'start' | 'shutdown'; sequence: number; message: string; stack?: string }
  | { type: 'user'; message: unknown }
  | { type: 'stopped' };
