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
  private last: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array = new Uint8Array(0);
  private readonly sse: boolean;

  /** `contentType`: the response's, which says whether the stream is SSE (see {@link unterminated}). */
  constructor(contentType = '') {
    this.sse = contentType.includes('event-stream');
  }

  push(chunk: Uint8Array): void {
    const end = chunk.lastIndexOf(NL);
    if (end === -1) {
      this.pending = append(this.pending, chunk);
      return;
    }
    const rest = chunk.subarray(end + 1).slice();
    // The newest non-blank complete line: walk back over blank ones (SSE ends each event with one).
    for (let e = end; e !== -1;) {
      const prev = e === 0 ? -1 : chunk.lastIndexOf(NL, e - 1);
      const line = prev === -1 ? append(this.pending, chunk.subarray(0, e)) : chunk.subarray(prev + 1, e);
      if (nonBlank(line)) {
        this.last = line.slice();
        break;
      }
      e = prev;
    }
    this.pending = rest;
  }

  /**
   * The last JSON object of the stream (an SSE `data:` payload included), or undefined. A line
   * longer than the 64 KiB kept (a long `context`, a batch of embeddings) has lost its head; its
   * durations and counts, which Ollama writes last, are read from the tail.
   */
  lastObject(): Record<string, unknown> | undefined {
    const tail = nonBlank(this.pending) ? this.pending : this.last;
    const text = decoder.decode(tail);
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
    const tail = nonBlank(this.pending) ? this.pending : this.last;
    return decoder.decode(tail).trim() !== SSE_DONE.trim();
  }
}

/** `a` then `b`, keeping only the last MAX_LINE bytes. */
function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length >= MAX_LINE) return b.slice(b.length - MAX_LINE);
  const keepA = Math.min(a.length, MAX_LINE - b.length);
  const out = new Uint8Array(keepA + b.length);
  out.set(a.subarray(a.length - keepA), 0);
  out.set(b, keepA);
  return out;
}

const METRIC = /"(total_duration|load_duration|prompt_eval_count|prompt_eval_duration|eval_count|eval_duration)":(\d+)/g;

/** The numeric metrics in the tail of a truncated final line, or undefined without `total_duration`. */
function metricsOf(text: string): Record<string, unknown> | undefined {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(METRIC)) out[m[1]] = Number(m[2]);
  return out.total_duration === undefined ? undefined : out;
}

function nonBlank(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 32 && b[i] !== 13 && b[i] !== 9 && b[i] !== NL) return true;
  return false;
}
