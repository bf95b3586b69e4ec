import type { FinalChunkStats } from '../scheduler/estimates';

const NL = 10;
const MAX_LINE = 1 << 16;
// One for all trackers: a TextDecoder is costly to make, and a tracker is made per request.
const decoder = new TextDecoder();

/**
 * Keeps the last complete line of a streamed response (NDJSON or SSE) without buffering the
 * stream, so dispatch can read Ollama's final chunk (`done`, durations, counts) or an in-band
 * `{"error": …}` line once the stream ends.
 */
export class FinalChunkTracker {
  private last: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): void {
    const end = chunk.lastIndexOf(NL);
    if (end === -1) {
      this.pending = append(this.pending, chunk);
      return;
    }
    const rest = chunk.subarray(end + 1).slice();
    // The newest non-blank complete line: walk back over blank ones (SSE ends each event with one).
    for (let e = end; e !== -1; ) {
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
    let text = decoder.decode(tail).trim();
    if (text.startsWith('data:')) text = text.slice(5).trim();
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not whole: fall through
    }
    return tail.length >= MAX_LINE ? metricsOf(text) : undefined;
  }
}

/** Ollama's durations (ns) and counts from a final chunk, in ms; undefined when it has none. */
export function statsOf(obj: Record<string, unknown> | undefined): FinalChunkStats | undefined {
  if (!obj || (obj.done !== true && obj.total_duration === undefined)) return undefined;
  const ms = (k: string) => (typeof obj[k] === 'number' ? (obj[k] as number) / 1e6 : 0);
  const n = (k: string) => (typeof obj[k] === 'number' ? (obj[k] as number) : 0);
  return {
    loadMs: ms('load_duration'),
    promptTokens: n('prompt_eval_count'),
    promptEvalMs: ms('prompt_eval_duration'),
    evalTokens: n('eval_count'),
    evalMs: ms('eval_duration'),
    totalMs: ms('total_duration'),
  };
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
