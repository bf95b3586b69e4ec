// A raw HTTP/1.x client over a TCP socket, for the fuzz tests: fetch and node:http refuse to send
// most of what a fuzzer wants to send (odd methods, invalid header bytes, conflicting framing,
// pipelined or truncated requests), so the requests are written as bytes and the answers parsed here.
import { connect } from 'node:net';

/** One parsed response. */
export interface RawResponse {
  status: number;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** Header names lower-cased; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
}

/** What came back on one connection. */
export interface RawExchange {
  /** Final responses, in order (interim 1xx responses are skipped). */
  responses: RawResponse[];
  /** The server closed the connection (or reset it) before the bound. */
  closed: boolean;
  /** Neither the expected responses nor a close came within the bound: a hang. */
  timedOut: boolean;
  /** Milliseconds from the first write to the end of the exchange. */
  elapsedMs: number;
  /** Bytes left over that did not make a whole response. */
  rest: Buffer;
}

export interface ExchangeOptions {
  /** How many final responses to wait for; the exchange also ends when the server closes. */
  expect: number;
  /** For each expected response, whether its request was a HEAD (no body follows its headers). */
  head?: boolean[];
  /** The bound: an exchange not over by then is reported as timed out. */
  timeoutMs: number;
  /** Half-close the connection after the last write (the client sends FIN). */
  endAfterWrite?: boolean;
  /** Pause between the written parts, to split a request across TCP segments. */
  gapMs?: number;
}

/**
 * Writes `parts` to 127.0.0.1:`port` and collects the responses until `expect` final responses
 * have come, the server closes, or `timeoutMs` passes. Never rejects: a connection error is a close.
 *
 * @example const x = await rawExchange(port, ['GET / HTTP/1.1\r\nHost: a\r\n\r\n'], { expect: 1, timeoutMs: 5_000 });
 */
export function rawExchange(port: number, parts: readonly (string | Buffer)[], opts: ExchangeOptions): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    let parsed: ParseResult = { responses: [], rest: buf, complete: true };
    let done = false;
    const finish = (closed: boolean, timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      // A close-delimited body is complete only now.
      if (closed) parsed = parseResponses(buf, opts.head ?? [], true);
      resolve({ responses: parsed.responses, closed, timedOut, elapsedMs: performance.now() - started, rest: parsed.rest });
    };
    const timer = setTimeout(() => finish(false, true), opts.timeoutMs);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      parsed = parseResponses(buf, opts.head ?? [], false);
      if (parsed.responses.length >= opts.expect && parsed.complete) finish(false, false);
    });
    socket.on('error', () => finish(true, false));
    socket.on('close', () => finish(true, false));
    socket.on('connect', () => {
      void (async () => {
        for (let i = 0; i < parts.length; i++) {
          if (done || socket.destroyed) return;
          socket.write(parts[i]);
          if (opts.gapMs && i < parts.length - 1) await new Promise((r) => setTimeout(r, opts.gapMs));
        }
        if (opts.endAfterWrite && !socket.destroyed) socket.end();
      })();
    });
  });
}

interface ParseResult {
  responses: RawResponse[];
  rest: Buffer;
  /** False while a response's body is still coming. */
  complete: boolean;
}

/**
 * Parses as many whole responses as `buf` holds. `head[i]` says whether the i-th final response
 * answers a HEAD. With `eof`, a response without a length ends at the end of the buffer.
 */
export function parseResponses(buf: Buffer, head: readonly boolean[], eof: boolean): ParseResult {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) return { responses, rest: buf.subarray(at), complete: at === buf.length };
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^(HTTP\/\d\.\d) (\d{3})/.exec(lines[0]);
    if (!m) return { responses, rest: buf.subarray(at), complete: false };
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c <= 0) continue;
      const k = l.slice(0, c).trim().toLowerCase();
      const v = l.slice(c + 1).trim();
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    const status = Number(m[2]);
    let bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      at = bodyStart;
      continue;
    }
    const noBody = head[responses.length] === true || status === 204 || status === 304;
    let body: Buffer;
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      const c = dechunk(buf, bodyStart);
      if (!c) return { responses, rest: buf.subarray(at), complete: false };
      body = c.body;
      bodyStart = c.end;
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < bodyStart + n) return { responses, rest: buf.subarray(at), complete: false };
      body = buf.subarray(bodyStart, bodyStart + n);
      bodyStart += n;
    } else {
      // Delimited by the close of the connection.
      if (!eof) return { responses, rest: buf.subarray(at), complete: false };
      body = buf.subarray(bodyStart);
      bodyStart = buf.length;
    }
    responses.push({ status, version: m[1], headers, body: Buffer.from(body) });
    at = bodyStart;
  }
}

/** Decodes a chunked body starting at `from`; undefined while incomplete. */
function dechunk(buf: Buffer, from: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0], 16);
    if (!Number.isFinite(size)) return undefined;
    at = eol + 2;
    if (size === 0) {
      // Trailers, then an empty line.
      const t = buf.indexOf('\r\n', at);
      if (t < 0) return undefined;
      if (t === at) return { body: Buffer.concat(parts), end: at + 2 };
      const tEnd = buf.indexOf('\r\n\r\n', at);
      if (tEnd < 0) return undefined;
      return { body: Buffer.concat(parts), end: tEnd + 4 };
    }
    if (buf.length < at + size + 2) return undefined;
    parts.push(buf.subarray(at, at + size));
    at += size + 2;
  }
}

/**
 * One request as bytes: `Host` first unless `headers` has one, then the headers as given (repeats
 * kept), then the body (with its Content-Length unless `framing` says otherwise).
 */
export function requestBytes(
  method: string,
  target: string,
  headers: readonly (readonly [string, string])[],
  body?: Buffer,
  opts: { version?: string; framing?: 'length' | 'none' | 'chunked' } = {},
): Buffer {
  const lines = [`${method} ${target} ${opts.version ?? 'HTTP/1.1'}`];
  if (!headers.some(([k]) => k.toLowerCase() === 'host')) lines.push('Host: 127.0.0.1');
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  const framing = opts.framing ?? 'length';
  let payload = body ?? Buffer.alloc(0);
  if (body !== undefined && framing === 'length') lines.push(`Content-Length: ${body.length}`);
  if (body !== undefined && framing === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    payload = body.length === 0 ? Buffer.from('0\r\n\r\n') : Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  }
  // latin1: a header value's bytes go out as given (a fuzzer's byte 0x80–0xff stays one byte).
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}
