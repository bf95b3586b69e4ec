/**
 * Stream framing of Ollama's two streaming shapes: NDJSON (`application/x-ndjson`, one JSON object
 * and `\n` a line) and its OpenAI layer's SSE (`text/event-stream`, `data: …\n\n` events ending
 * in `data: [DONE]`). Writers, a line splitter and line parser for readers, and a tracker of the
 * final chunk that reads no more of a stream than its last line.
 */

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
export const SSE_CONTENT_TYPE = 'text/event-stream';
/** The event that ends an OpenAI stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** True for a streamed response's content type (NDJSON or SSE). */
export function isStreamContentType(type: string): boolean {
  return type.includes('ndjson') || type.includes('event-stream');
}

/** One NDJSON line. */
export function ndjsonLine(obj: unknown): string {
  return `${JSON.stringify(obj)}\n`;
}

/** One SSE event carrying `json` (already serialised, so callers can control key order). */
export function sseEvent(json: string): string {
  return `data: ${json}\n\n`;
}

/**
 * The JSON object on one line of either shape (an SSE `data:` payload included), or undefined for
 * a blank line, `[DONE]`, or anything that is not a whole JSON object.
 */
export function parseStreamLine(line: string): Record<string, unknown> | undefined {
  let t = line.trim();
  if (t.startsWith('data:')) t = t.slice(5).trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The message of an in-band error object (`{"error":"…"}`, which Ollama writes as a stream's last
 * line when it fails after starting), else undefined. Like Ollama's own client, any object whose
 * `error` is a string counts.
 */
export function inBandErrorOf(obj: Record<string, unknown> | undefined): string | undefined {
  return typeof obj?.error === 'string' ? obj.error : undefined;
}

/**
 * Splits a byte stream into lines (`\n`-terminated; a `\r` before it is the caller's to trim),
 * decoding UTF-8 across chunk boundaries.
 *
 * @example const s = new LineSplitter(); for (const l of s.push(chunk)) take(l); take(s.end());
 */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new TextDecoder();

  /** The complete lines `chunk` finishes, in order. */
  push(chunk: Uint8Array | string): string[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines: string[] = [];
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) !== -1) {
      lines.push(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
    return lines;
  }

  /** What is left after the last newline (a final line without one), and resets. */
  end(): string {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    return rest;
  }
}

const NL = 10;
const MAX_LINE = 1 << 16;
// One for all trackers: a TextDecoder is costly to make, and a tracker is made per request.
const decoder = new TextDecoder();

/**
 * Keeps the last complete line of a streamed response (NDJSON or SSE) without buffering the
 * stream, so dispatch can read Ollama's final chunk (`done`, durations, counts) or an in-band
 * `{"error": …}` line once the stream ends, and tell an SSE stream that ended without its
 * `[DONE]`.
 */
export class FinalChunkTracker {
  /** The last non-blank complete line, and what came after the last newline: copies, in buffers reused line after line. */
  private readonly last = new ByteTail();
  private readonly pending = new ByteTail();
  private readonly sse: boolean;

  /** `contentType`: the response's, which says whether the stream is SSE (see {@link unterminated}). */
  constructor(contentType = '') {
    this.sse = contentType.includes('event-stream');
  }

  /**
   * Reads one chunk. What it keeps is copied (the caller may reuse the chunk afterwards), into
   * buffers of its own that each line reuses: a stream of token lines allocates nothing here.
   */
  push(chunk: Uint8Array): void {
    const end = chunk.lastIndexOf(NL);
    if (end === -1) {
      this.pending.append(chunk, 0, chunk.length);
      return;
    }
    // The newest non-blank complete line: walk back over blank ones (SSE ends each event with one).
    for (let e = end; e !== -1;) {
      const prev = e === 0 ? -1 : chunk.lastIndexOf(NL, e - 1);
      if (prev !== -1) {
        if (nonBlank(chunk, prev + 1, e)) {
          this.last.set(chunk, prev + 1, e);
          break;
        }
      } else if (nonBlank(chunk, 0, e) || this.pending.nonBlank()) {
        // The line began in an earlier chunk: what was pending, then this chunk's head.
        this.pending.append(chunk, 0, e);
        this.last.take(this.pending);
        break;
      }
      e = prev;
    }
    this.pending.set(chunk, end + 1, chunk.length);
  }

  /**
   * The last JSON object of the stream (an SSE `data:` payload included), or undefined. A line
   * longer than the 64 KiB kept (a long `context`, a batch of embeddings) has lost its head; its
   * durations and counts, which Ollama writes last, are read from the tail.
   */
  lastObject(): Record<string, unknown> | undefined {
    const tail = this.pending.nonBlank() ? this.pending : this.last;
    const text = decoder.decode(tail.bytes());
    const whole = parseStreamLine(text);
    if (whole) return whole;
    return tail.length >= MAX_LINE ? metricsOf(text) : undefined;
  }

  /**
   * True for an SSE stream (by the content type given) whose last line is not `data: [DONE]`: the
   * node stopped before the end. Ollama's OpenAI layer ends a stream that failed after it began so
   * (one empty chunk, then the end, with no error event: ollama-api.md §7), so this is how such a
   * failure shows. NDJSON streams are never unterminated here.
   */
  unterminated(): boolean {
    if (!this.sse) return false;
    const tail = this.pending.nonBlank() ? this.pending : this.last;
    return decoder.decode(tail.bytes()).trim() !== SSE_DONE.trim();
  }
}

/** The last MAX_LINE bytes of what was written to it, in a buffer that grows as needed and is reused. */
class ByteTail {
  private buf = new Uint8Array(256);
  length = 0;

  /** Replaces the contents with `src[from, to)`. */
  set(src: Uint8Array, from: number, to: number): void {
    this.length = 0;
    this.append(src, from, to);
  }

  /** Adds `src[from, to)`, keeping only the last MAX_LINE bytes. */
  append(src: Uint8Array, from: number, to: number): void {
    if (to - from >= MAX_LINE) {
      from = to - MAX_LINE;
      this.length = 0;
    }
    const n = to - from;
    if (n === 0) return;
    const keep = Math.min(this.length, MAX_LINE - n);
    const need = keep + n;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.min(MAX_LINE, Math.max(need, this.buf.length * 2)));
      grown.set(this.buf.subarray(this.length - keep, this.length), 0);
      this.buf = grown;
    } else if (keep < this.length) this.buf.copyWithin(0, this.length - keep, this.length);
    this.buf.set(src.subarray(from, to), keep);
    this.length = need;
  }

  /** Moves `other`'s contents here (swapping buffers, no copy) and empties it. */
  take(other: ByteTail): void {
    const buf = this.buf;
    this.buf = other.buf;
    this.length = other.length;
    other.buf = buf;
    other.length = 0;
  }

  nonBlank(): boolean {
    return nonBlank(this.buf, 0, this.length);
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const METRIC = /"(total_duration|load_duration|prompt_eval_count|prompt_eval_duration|eval_count|eval_duration)":(\d+)/g;

/** The numeric metrics in the tail of a truncated final line, or undefined without `total_duration`. */
function metricsOf(text: string): Record<string, unknown> | undefined {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(METRIC)) out[m[1]] = Number(m[2]);
  return out.total_duration === undefined ? undefined : out;
}

function nonBlank(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 32 && b[i] !== 13 && b[i] !== 9 && b[i] !== NL) return true;
  return false;
}
