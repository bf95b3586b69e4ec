import type { IncomingMessage } from 'node:http';

/** Why a body could not be read. */
export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a request body up to `maxBytes`. An oversized body is refused as soon as its size is known
 * (from Content-Length, or while it streams in), with 413, and the rest is not read. A body that
 * trickles in too slowly is cut off by the server's `requestTimeout`.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyError(413, `request body of ${declared} bytes exceeds the limit of ${maxBytes}`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > maxBytes) throw new BodyError(413, `request body exceeds the limit of ${maxBytes} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts, n);
}
