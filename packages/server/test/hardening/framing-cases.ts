// Request framings for the framing fuzz, each as bytes with what it must come to: chunked, lengths
// too short or too long, Content-Length against Transfer-Encoding, duplicate lengths, odd transfer
// codings, HTTP/1.0, and pipelines of several requests on one connection.
import fc from 'fast-check';
import { requestBytes } from './raw-http';

/** A valid inference body (a node answers it) and a malformed one (the gateway refuses it). */
export const GOOD = Buffer.from(JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 2 } }));
export const BAD = Buffer.from('{"model":"llama3.2","prompt":');
/** A whole request hidden in a body, as a smuggling attempt would: it must never reach a node. */
const SMUGGLED = requestBytes('POST', '/api/generate', [['Content-Type', 'application/json']], GOOD);

/** One framed request: its bytes, and whether a parser that honours the framing rules accepts it. */
export interface Framed {
  name: string;
  bytes: Buffer;
  /** Well framed: Node's parser must take it and the gateway answer it once. */
  valid: boolean;
}

const head = (lines: string[]): Buffer => Buffer.from(`POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1');
const cat = (...parts: (Buffer | string)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

/** `body` in chunks of the given sizes (the last one takes the rest), each with an optional extension. */
function chunked(body: Buffer, sizes: number[], ext = '', trailer = ''): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of sizes) {
    if (at >= body.length) break;
    const piece = body.subarray(at, Math.min(body.length, at + Math.max(1, s)));
    parts.push(cat(`${piece.length.toString(16)}${ext}\r\n`, piece, '\r\n'));
    at += piece.length;
  }
  if (at < body.length) parts.push(cat(`${(body.length - at).toString(16)}\r\n`, body.subarray(at), '\r\n'));
  return cat(...parts, `0\r\n${trailer}\r\n`);
}

/** Every framing of one POST with `body`: the valid ones and the ones a parser must refuse. */
export function framings(body: Buffer, sizes: number[]): Framed[] {
  const n = body.length;
  return [
    { name: 'content-length', bytes: cat(head([`Content-Length: ${n}`]), body), valid: true },
    { name: 'chunked', bytes: cat(head(['Transfer-Encoding: chunked']), chunked(body, sizes)), valid: true },
    { name: 'chunked with extensions and a trailer', bytes: cat(head(['Transfer-Encoding: chunked']), chunked(body, sizes, ';x=1;y', 'X-Trailer: t\r\n')), valid: true },
    { name: 'Transfer-Encoding in capitals', bytes: cat(head(['Transfer-Encoding: CHUNKED']), chunked(body, sizes)), valid: true },
    { name: 'the same Content-Length twice', bytes: cat(head([`Content-Length: ${n}`, `Content-Length: ${n}`]), body), valid: false },
    { name: 'HTTP/1.0 with a length', bytes: cat(Buffer.from(`POST /api/generate HTTP/1.0\r\nContent-Length: ${n}\r\n\r\n`), body), valid: true },
    // Refused by the rules (RFC 9112 §6.3): the body's end would be ambiguous.
    { name: 'chunked and Content-Length (smuggling)', bytes: cat(head(['Transfer-Encoding: chunked', `Content-Length: ${n}`]), body, '\r\n0\r\n\r\n', SMUGGLED), valid: false },
    { name: 'Content-Length then chunked (smuggling)', bytes: cat(head([`Content-Length: 5`, 'Transfer-Encoding: chunked']), chunked(body, sizes), SMUGGLED), valid: false },
    { name: 'two different Content-Lengths', bytes: cat(head([`Content-Length: ${n}`, `Content-Length: ${n + 1}`]), body, ' '), valid: false },
    { name: 'Content-Length with a sign', bytes: cat(head([`Content-Length: +${n}`]), body), valid: false },
    { name: 'Content-Length in hex', bytes: cat(head([`Content-Length: 0x${n.toString(16)}`]), body), valid: false },
    { name: 'Content-Length past 2^53', bytes: cat(head(['Content-Length: 99999999999999999999']), body), valid: false },
    { name: 'chunked not last', bytes: cat(head(['Transfer-Encoding: chunked, gzip']), chunked(body, sizes)), valid: false },
    { name: 'an unknown transfer coding alone', bytes: cat(head(['Transfer-Encoding: gzip']), body), valid: false },
    { name: 'a chunk size that is not hex', bytes: cat(head(['Transfer-Encoding: chunked']), `zz\r\n`, body, '\r\n0\r\n\r\n'), valid: false },
    { name: 'a chunk size past 2^64', bytes: cat(head(['Transfer-Encoding: chunked']), `fffffffffffffffffff\r\n`, body, '\r\n0\r\n\r\n'), valid: false },
    { name: 'a chunk without its CRLF', bytes: cat(head(['Transfer-Encoding: chunked']), `${n.toString(16)}\r\n`, body, 'XX0\r\n\r\n'), valid: false },
    { name: 'a bare LF line end', bytes: cat(Buffer.from(`POST /api/generate HTTP/1.1\nHost: a\nContent-Length: ${n}\n\n`), body), valid: false },
    { name: 'obs-fold header', bytes: cat(head([`Content-Length: ${n}`, 'X-A: a', ' folded']), body), valid: false },
    { name: 'a space before the colon', bytes: cat(head([`Content-Length : ${n}`]), body), valid: false },
  ];
}

/** How a framed request misbehaves on the wire: sent whole or in pieces, cut short, or followed by more. */
export type Delivery = { kind: 'whole' } | { kind: 'split'; cuts: number[] } | { kind: 'truncated'; at: number } | { kind: 'short-length'; by: number };

export const delivery: fc.Arbitrary<Delivery> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'whole' as const }) },
  { weight: 3, arbitrary: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }).map((cuts) => ({ kind: 'split' as const, cuts })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 10_000 }).map((at) => ({ kind: 'truncated' as const, at })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }).map((by) => ({ kind: 'short-length' as const, by })) },
);

/** Splits `bytes` at the given cut points (clamped, sorted). */
export function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.min(bytes.length, c)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    if (c > from) parts.push(bytes.subarray(from, c));
    from = c;
  }
  if (from < bytes.length) parts.push(bytes.subarray(from));
  return parts;
}

/** The same POST with a Content-Length `by` bytes short: the rest of the body is read as a next request. */
export function shortLength(body: Buffer, by: number): Buffer {
  return cat(head([`Content-Length: ${Math.max(0, body.length - by)}`]), body);
}

/** Requests for a pipeline: each with its bytes, whether it is a HEAD, and the status it must get. */
export const PIPELINED: readonly { name: string; bytes: Buffer; head: boolean; status: number; flavor: 'ollama' | 'openai' }[] = [
  { name: 'GET /health', bytes: requestBytes('GET', '/health', []), head: false, status: 200, flavor: 'ollama' },
  { name: 'GET /api/tags', bytes: requestBytes('GET', '/api/tags', []), head: false, status: 200, flavor: 'ollama' },
  { name: 'HEAD /api/tags', bytes: requestBytes('HEAD', '/api/tags', []), head: true, status: 200, flavor: 'ollama' },
  { name: 'generate', bytes: requestBytes('POST', '/api/generate', [['Content-Type', 'application/json']], GOOD), head: false, status: 200, flavor: 'ollama' },
  { name: 'generate, chunked', bytes: requestBytes('POST', '/api/generate', [], GOOD, { framing: 'chunked' }), head: false, status: 200, flavor: 'ollama' },
  {
    name: 'chat, streamed',
    bytes: requestBytes('POST', '/api/chat', [], Buffer.from(JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], options: { num_predict: 3 } }))),
    head: false,
    status: 200,
    flavor: 'ollama',
  },
  {
    name: 'openai chat, streamed',
    bytes: requestBytes(
      'POST',
      '/v1/chat/completions',
      [],
      Buffer.from(JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], max_tokens: 3, stream: true })),
    ),
    head: false,
    status: 200,
    flavor: 'openai',
  },
  { name: 'generate, malformed JSON', bytes: requestBytes('POST', '/api/generate', [], BAD), head: false, status: 400, flavor: 'ollama' },
  { name: 'openai, unknown model', bytes: requestBytes('POST', '/v1/completions', [], Buffer.from('{"model":"nope","prompt":"x"}')), head: false, status: 404, flavor: 'openai' },
  { name: 'unknown path', bytes: requestBytes('GET', '/nope', []), head: false, status: 404, flavor: 'ollama' },
];
