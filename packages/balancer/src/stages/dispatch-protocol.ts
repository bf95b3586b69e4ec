import type { Route } from '@ollama-ring/protocol';
import type { AssembledRoute } from '../upstream/assembler';
import type { DispatchTimeouts, NodeEndpoint } from './dispatch-types';
import type { TraceHeaders } from '../tracing/trace-context';

/** Frames a dispatch worker writes into its byte ring: [kind u8, 0, 0, 0][requestId i32][payload]. */
export const FRAME_START = 1; // payload: JSON { status, headers }
export const FRAME_CHUNK = 2; // payload: response bytes
export const FRAME_OUTCOME = 3; // payload: JSON of a WireOutcome
export const FRAME_HEADER_BYTES = 8;

/** Messages from the main thread to a dispatch worker. */
export type ToDispatchWorker =
  | {
      type: 'dispatch';
      id: number;
      nodeId: string;
      route: Route;
      /** The body's place in the shared arena buffer (read in place, not copied). */
      bodyByteOffset: number;
      bodyLength: number;
      timeouts: DispatchTimeouts;
      assemble?: AssembledRoute;
      trace?: TraceHeaders;
    }
  | { type: 'abort'; id: number }
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  | { type: 'nodes'; nodes: NodeEndpoint[] }
  | { type: 'close' };

/** A dispatch outcome as JSON: errors travel as their class name, fields and message. */
export type WireOutcome =
  | { kind: 'ok'; status: number; ttftMs: number; latencyMs: number; final?: unknown; inBandError?: string; unterminated?: boolean }
  | { kind: 'http-error'; status: number; body: string; latencyMs: number }
  | { kind: 'failed'; error: WireError; started: boolean; refused: boolean; latencyMs: number; ttftMs: number }
  | { kind: 'aborted'; started: boolean; latencyMs: number };

export interface WireError {
  timeout?: 'connect' | 'first-byte' | 'idle' | 'total';
  timeoutMs?: number;
  nodeId: string;
  status: number;
  message: string;
}

/**
 * What actually crosses the port: the messages of one main-thread task, in order, as one batch
 * (a message costs a structured clone and a wake-up of the worker, whatever its size).
 */
export type ToDispatchWorkerBatch = ToDispatchWorker[];

/** workerData of a dispatch worker. */
export interface DispatchWorkerData {
  arena: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  connectTimeoutMs: number;
  nodes: NodeEndpoint[];
}
