/** Small HTTP helpers shared by the routes: body reading and the response shapes gin produces. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimHttpError } from './errors';

/** Bodies above this are refused (a prompt of a few MB is plenty for a simulator). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SimHttpError(413, 'http: request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** gin's `c.JSON`: compact JSON, no trailing newline. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The native error body `{"error":"…"}`. */
export function sendNativeError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** 200 with an empty body (`/api/delete`, `/api/copy`). */
export function sendEmpty(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}
