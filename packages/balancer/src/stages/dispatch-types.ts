import type { AssembledRoute } from '../upstream/assembler';
import type { CancelSignal } from '../upstream/cancel';
/**
 * The contract of dispatch, apart from its implementations (`Dispatcher` inline, `WorkerDispatcher`
 * on worker threads): what a job is, what it ends with, and the port the scheduler calls.
 */
import type { Route } from '@ollama-ring/protocol';
import type { UpstreamError } from '../errors';
import type { FinalChunkStats } from '../scheduler/estimates';
import type { TlsFiles } from '../nodes/node-tls';
import type { TraceHeaders } from '../tracing/trace-context';

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
  /**
   * Set for a non-streamed generate or chat whose body now asks the node for a stream: dispatch
   * assembles Ollama's single answer from it, and the sink sees nothing until it is whole.
   */
  assemble?: AssembledRoute;
  /**
   * The W3C trace context the node gets (`traceparent`, `tracestate`), when the request has one:
   * the gateway's span as the parent, in the client's trace. Absent: no header is added.
   */
  trace?: TraceHeaders;
  /** Aborts the upstream request (client gone, or the scheduler's own decision). */
  signal: CancelSignal;
  sink: DispatchSink;
}

/**
 * How an upstream exchange ended. `started` says whether any byte reached the sink. For `ok`:
 * `inBandError` is the message of the node's own error line or event that ended the stream (the
 * client has had it); `unterminated` says an SSE stream ended without `data: [DONE]` (and nothing
 * told the client why).
 */
export type DispatchOutcome =
  | { kind: 'ok'; status: number; started: true; ttftMs: number; latencyMs: number; final?: FinalChunkStats; inBandError?: string; unterminated?: boolean }
  | { kind: 'http-error'; status: number; body: string; started: false; latencyMs: number }
  | { kind: 'failed'; error: UpstreamError; started: boolean; refused: boolean; latencyMs: number; ttftMs: number }
  | { kind: 'aborted'; started: boolean; latencyMs: number };

/** Per-node connection settings. */
export interface NodeEndpoint {
  id: string;
  url: string;
  connections: number;
  /** An https node's CA and client certificate files (`NodeSpec.tls`). */
  tls?: TlsFiles;
}

/**
 * What the scheduler dispatches through: the inline `Dispatcher` (undici on the main thread) or
 * the `WorkerDispatcher` (the same, on worker threads). Where dispatch runs is configuration.
 */
export interface DispatchPort {
  setNodes(nodes: readonly NodeEndpoint[]): void;
  dispatch(job: DispatchJob): Promise<DispatchOutcome>;
  close(): Promise<void>;
}
