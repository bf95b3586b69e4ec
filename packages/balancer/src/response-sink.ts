import { type BalancerError, UpstreamError } from './errors';
import type { FinalChunkStats } from './scheduler/estimates';

/** Where a request's response goes: an HTTP response in the gateway, a promise or iterator in the library. */
export interface ResponseSink {
  /**
   * The upstream answered with a success status and its first bytes are about to follow. Called
   * once, before the first `onChunk`. After this the request can no longer be retried elsewhere.
   */
  onStart(info: StartInfo): void;
  /** Raw response bytes, as they arrive, unbuffered. May return false to ask for backpressure. */
  onChunk(chunk: Uint8Array): boolean | void;
  /** The response is complete. */
  onEnd(info: EndInfo): void;
  /**
   * The request failed. `started` says whether `onStart` had been called: if so the error must be
   * delivered in-band (Ollama sends a final `{"error": …}` line), otherwise as an error response.
   * When {@link deliveredInBand} is true the node's own error line was the stream's last chunk:
   * the sink only ends the response, so that the stream ends with that error once.
   */
  onError(error: BalancerError, started: boolean): void;
  /** Resolves when the sink can take more bytes (after `onChunk` returned false). */
  drained?(): Promise<void>;
}

export interface StartInfo {
  nodeId: string;
  status: number;
  /** Upstream response headers, hop-by-hop ones removed: an object made for this response, which the sink may complete in place. */
  headers: Record<string, string>;
  queueMs: number;
  retries: number;
  /** The model the client asked for, when the request was switched to its fallback model (the body names the fallback). */
  fallbackFrom?: string;
}

export interface EndInfo {
  final?: FinalChunkStats;
  ttftMs: number;
  latencyMs: number;
}

/**
 * True when `error` is a node's in-band error whose line the sink has already been given as the
 * stream's last chunk: writing it again would end the stream with the error twice.
 *
 * @example onError(e, started) { if (started && deliveredInBand(e)) return res.end(); … }
 */
export function deliveredInBand(error: BalancerError): boolean {
  return error instanceof UpstreamError && error.inBand;
}
