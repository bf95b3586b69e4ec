import type { IncomingMessage } from 'node:http';
import { OllamaRingError } from '@ollama-ring/protocol';

/** Why a body could not be read; `status` is the HTTP answer (413 too large, 400 cut short). */
export class BodyError extends OllamaRingError {
  static override brand = 'ERR_BODY';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(BodyError.brand, message);
  }
}

/**
 * Reads a request body up to `maxBytes`. An oversized body is refused as soon as its size is known
 * (from Content-Length, or while it streams in), with 413, and the rest is not read. A body that
 * trickles in too slowly is cut off by the gateway's request deadline (`RequestDeadlines`): the
 * client gets 408, and this rejects as the connection closes.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new BodyError(413, `request body of ${declared} bytes exceeds the limit of ${maxBytes}`));
  }
  // Already read to its end, or already gone: no event is coming to settle the promise below.
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(clientLeft());
  // Events rather than an async iterator: a request body is usually one chunk, and the iterator's
  // promises and wrapper objects cost more than reading it.
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const onData = (chunk: Buffer): void => {
      n += chunk.length;
      if (n > maxBytes) {
        cleanup();
        // Stop reading; the caller answers 413 and closes the connection.
        req.pause();
        reject(new BodyError(413, `request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts, n));
    };
    // The client went away before the body was whole: an 'aborted' error (ECONNRESET), or 'close'
    // without 'end'. Either way the body cannot be had; it is the client's doing, not a failure here.
    const onGone = (): void => {
      cleanup();
      reject(clientLeft());
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

function clientLeft(): BodyError {
  return new BodyError(400, 'the client closed the connection before the request body was complete');
}
