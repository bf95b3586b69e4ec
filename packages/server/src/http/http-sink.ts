import type { ServerResponse } from 'node:http';
import { type BalancerError, deliveredInBand, type EndInfo, type ResponseSink, type StartInfo } from '@ollama-ring/balancer';
import { type ErrorFlavor, isStreamContentType, streamErrorLine } from '@ollama-ring/protocol';
import { sendThrown } from './errors';

/** Response headers every proxied response carries. */
export const NODE_HEADER = 'x-ollama-ring-node';
export const QUEUE_HEADER = 'x-ollama-ring-queue-ms';
export const RETRIES_HEADER = 'x-ollama-ring-retries';
/** On a response served by the request's fallback model: the model the client asked for. */
export const FALLBACK_HEADER = 'x-ollama-ring-fallback';

/**
 * Delivers a pipeline response to an HTTP client: upstream status and headers (hop-by-hop ones
 * already stripped), then the bytes as they arrive, unbuffered, with socket backpressure passed back
 * to dispatch. An error before the first byte becomes an error response in the caller's API shape;
 * an error after it is delivered in-band, as Ollama does: a last `{"error": …}` line (or an SSE
 * `data:` event for OpenAI streams), then the end of the stream. A node's own error line, already
 * passed on, is not written a second time.
 */
export class HttpSink implements ResponseSink {
  private streaming = false;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly flavor: ErrorFlavor,
    private readonly onFinish?: (info: { status: number; nodeId: string; queueMs: number; retries: number; error?: BalancerError; end?: EndInfo }) => void,
  ) {}

  private start?: StartInfo;

  onStart(info: StartInfo): void {
    this.start = info;
    // The exchange made this object for this response alone (hop-by-hop headers stripped): it is
    // completed in place rather than copied.
    const headers = info.headers;
    headers[NODE_HEADER] = info.nodeId;
    headers[QUEUE_HEADER] = String(Math.round(info.queueMs));
    headers[RETRIES_HEADER] = String(info.retries);
    if (info.fallbackFrom !== undefined) headers[FALLBACK_HEADER] = info.fallbackFrom;
    const type = headers['content-type'] ?? '';
    // A stream of known length cannot take an in-band error line at its end (see onError).
    this.streaming = isStreamContentType(type) && headers['content-length'] === undefined;
    const length = headers['content-length'];
    this.remaining = length !== undefined && /^\d+$/.test(length) ? Number(length) : -1;
    this.res.writeHead(info.status, headers);
    // The headers leave with the first chunk, in one write. Upstream usually sends both together;
    // when it does not (a stream waiting on a model load), they go on their own a moment later, so
    // that a streaming client still sees the response begin.
    if (this.streaming) setImmediate(this.flushIfIdle);
  }

  // (`headersSent` cannot tell: it turns true at writeHead, before anything is on the wire.)
  private wroteChunk = false;
  /** Bytes of a known-length body still to come (-1: length unknown). */
  private remaining = -1;
  /**
   * The last bytes of a known-length body. They complete the response for the client, so they
   * leave only with `onEnd`, which comes after the scheduler has freed the slot.
   */
  private last?: Uint8Array;

  private readonly flushIfIdle = (): void => {
    if (!this.wroteChunk && !this.res.destroyed && !this.ended) this.res.flushHeaders();
  };

  onChunk(chunk: Uint8Array): boolean {
    if (this.res.destroyed) return true;
    this.wroteChunk = true;
    if (this.remaining >= 0 && (this.remaining -= chunk.length) <= 0) {
      this.last = chunk;
      return true;
    }
    return this.res.write(chunk);
  }

  drained(): Promise<void> {
    if (this.res.destroyed || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  onEnd(info: EndInfo): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end(this.last);
    this.onFinish?.({ status: this.start?.status ?? 200, nodeId: this.start?.nodeId ?? '', queueMs: this.start?.queueMs ?? 0, retries: this.start?.retries ?? 0, end: info });
  }

  onError(error: BalancerError, started: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (!started || !this.res.headersSent) {
      sendThrown(this.res, error, this.flavor);
    } else if (this.res.destroyed) {
      // The client is gone; there is nobody to tell.
    } else if (deliveredInBand(error)) {
      // The node's own error line was the last chunk: the response is whole, end it as it is.
      this.res.end(this.last);
    } else if (this.res.writableNeedDrain) {
      // A client that stopped reading (often the very reason for the timeout) would never get an
      // error line, and the response and its socket would be held until it went away: close it.
      this.res.destroy();
    } else if (this.last !== undefined) {
      // The whole known-length body came (an error judged from its content): it goes out as it is.
      this.res.end(this.last);
    } else if (this.streaming) {
      this.res.end(streamErrorLine(this.flavor, error.message));
    } else {
      // A single JSON body cut in the middle cannot be repaired; closing tells the client it is incomplete.
      this.res.destroy();
    }
    this.onFinish?.({
      status: started ? (this.start?.status ?? 200) : error.status,
      nodeId: this.start?.nodeId ?? '',
      queueMs: this.start?.queueMs ?? 0,
      retries: this.start?.retries ?? 0,
      error,
    });
  }
}
