import { BACKSLASH, QUOTE } from './json';

const COLON = 0x3a;
const COMMA = 0x2c;

/** Where a value sits in a JSON text: bytes `[start, end)`. */
export interface JsonSpan {
  start: number;
  end: number;
}

/**
 * The span of the value of top-level key `key` in the JSON object `bytes` (the last one, when the
 * key repeats: Go's decoder, and so Ollama, takes the last), or undefined when it has none. Only
 * structure is walked: strings are skipped with native searches for their closing quote, so a body
 * of megabytes of base64 images costs little. `bytes` must already be known to be valid JSON.
 *
 * @example
 * const b = new TextEncoder().encode('{"model":"m","stream":false}');
 * topLevelValue(b, 'stream'); // { start: 22, end: 27 }
 */
export function topLevelValue(bytes: Uint8Array, key: string): JsonSpan | undefined {
  return findTopLevel(bytes, encoder.encode(key));
}

const encoder = new TextEncoder();
/** The key `setStreamTrue` looks for, encoded once rather than per request. */
const STREAM_KEY = encoder.encode('stream');

function findTopLevel(bytes: Uint8Array, want: Uint8Array): JsonSpan | undefined {
  let depth = 0;
  let expectKey = false;
  let matched = false;
  let found: JsonSpan | undefined;
  let valueStart = -1;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      const end = closingQuote(bytes, i);
      if (depth === 1 && expectKey) {
        matched = end - i - 1 === want.length && sameBytes(bytes, i + 1, want);
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      // { or [
      depth++;
      if (depth === 1) expectKey = c === 0x7b;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      // } or ]
      depth--;
      if (depth === 1 && matched && valueStart >= 0) {
        found = { start: valueStart, end: i + 1 };
        matched = false;
        valueStart = -1;
      } else if (depth === 0 && matched && valueStart >= 0) {
        found = { start: valueStart, end: trimEnd(bytes, valueStart, i) };
        matched = false;
      }
      continue;
    }
    if (depth !== 1) continue;
    if (c === COLON) {
      if (matched) valueStart = skipSpace(bytes, i + 1);
    } else if (c === COMMA) {
      if (matched && valueStart >= 0) found = { start: valueStart, end: trimEnd(bytes, valueStart, i) };
      matched = false;
      valueStart = -1;
      expectKey = true;
    }
  }
  return found;
}

/** The index of the quote that closes the string opening at `open`. */
function closingQuote(b: Uint8Array, open: number): number {
  let j = open;
  for (;;) {
    j = b.indexOf(QUOTE, j + 1);
    if (j === -1) return b.length;
    // Escaped when preceded by an odd run of backslashes.
    let k = j - 1;
    while (k > open && b[k] === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
}

function sameBytes(b: Uint8Array, at: number, want: Uint8Array): boolean {
  for (let k = 0; k < want.length; k++) if (b[at + k] !== want[k]) return false;
  return true;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  return i;
}

function trimEnd(b: Uint8Array, start: number, end: number): number {
  while (end > start && (b[end - 1] === 0x20 || b[end - 1] === 0x09 || b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--;
  return end;
}

const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const TRUE_PADDED = [0x74, 0x72, 0x75, 0x65, 0x20];

/**
 * Turns a top-level `"stream": false` into `"stream": true ` in place (same length: no copy of the
 * body); false when the body has no such literal (then nothing was changed).
 *
 * @example
 * const b = new TextEncoder().encode('{"stream":false}');
 * setStreamTrue(b); // true; b reads {"stream":true }
 */
export function setStreamTrue(bytes: Uint8Array): boolean {
  const span = findTopLevel(bytes, STREAM_KEY);
  if (!span || span.end - span.start !== FALSE.length) return false;
  for (let k = 0; k < FALSE.length; k++) if (bytes[span.start + k] !== FALSE[k]) return false;
  for (let k = 0; k < TRUE_PADDED.length; k++) bytes[span.start + k] = TRUE_PADDED[k];
  return true;
}
