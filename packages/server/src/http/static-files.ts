import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

/** A body served as is: its bytes, gzipped once when worth it, and its ETag. */
export interface Served {
  type: string;
  body: Buffer;
  gzip?: Buffer;
  etag: string;
}

/** Assets change only with the package: a day's caching, revalidated by ETag after that. */
export const ASSET_CACHE = 'public, max-age=86400';
/** Pages and documents change with the gateway: revalidated on every use. */
export const PAGE_CACHE = 'no-cache';

/**
 * A body to serve from memory, with its ETag, and its gzip when it is text.
 *
 * @example const page = served('text/html; charset=utf-8', Buffer.from(html));
 */
export function served(type: string, body: Buffer): Served {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  // Text compresses 4-5×; images are already compressed.
  const gzip = type.startsWith('image/') ? undefined : gzipSync(body);
  return { type, body, etag, ...(gzip ? { gzip } : {}) };
}

/**
 * Sends `s` with its caching headers: 304 when the client's copy is current, gzip when it accepts it.
 *
 * @example sendServed(req, res, page, PAGE_CACHE, { 'content-security-policy': "default-src 'self'" });
 */
export function sendServed(req: IncomingMessage, res: ServerResponse, s: Served, cache: string, extra: Record<string, string> = {}): void {
  const headers: Record<string, string | number> = { 'cache-control': cache, etag: s.etag, vary: 'accept-encoding', 'x-content-type-options': 'nosniff', ...extra };
  const tags = req.headers['if-none-match'];
  if (tags && tags.split(',').some((t) => t.trim().replace(/^W\//, '') === s.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = s.gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const body = gzip ? (s.gzip as Buffer) : s.body;
  res.writeHead(200, { ...headers, 'content-type': s.type, 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Files read once from disk, on first use, and kept: a failed read is not kept (the next request
 * tries again).
 *
 * @example const files = new FileCache(); await files.get('a.js', () => readFile(p).then((b) => served(type, b)));
 */
export class FileCache {
  private readonly files = new Map<string, Promise<Served>>();

  get(name: string, load: () => Promise<Served>): Promise<Served> {
    let a = this.files.get(name);
    if (a) return a;
    a = load();
    a.catch(() => this.files.delete(name));
    this.files.set(name, a);
    return a;
  }
}

/** The plain 404 of an unknown asset. */
export function sendNoAsset(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('404 page not found');
}
