import type { FinalChunkStats } from '../scheduler/estimates';

const NL = 10;
const MAX_LINE = 1 << 16;

/**
 * Keeps the last complete line of a streamed response (NDJSON or SSE) without buffering the
 * stream, so dispatch can read Ollama's final chunk (`done`, durations, counts) or an in-band
 * `{"error": …}` line once the stream ends.
 */
export class FinalChunkTracker {
  private last: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array = new Uint8Array(0);
  private readonly decoder = new TextDecoder();

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

  /** The last JSON object of the stream (an SSE `data:` payload included), or undefined. */
  lastObject(): Record<string, unknown> | undefined {
    const tail = nonBlank(this.pending) ? this.pending : this.last;
    let text = this.decoder.decode(tail).trim();
    if (text.startsWith('data:')) text = text.slice(5).trim();
    if (!text.startsWith('{')) return undefined;
    try {
      const v = JSON.parse(text) as unknown;
      return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
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

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length + b.length > MAX_LINE) return b.slice(Math.max(0, b.length - MAX_LINE));
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function nonBlank(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 32 && b[i] !== 13 && b[i] !== 9 && b[i] !== NL) return true;
  return false;
}
