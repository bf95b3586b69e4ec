import type { FinalChunkStats } from '../scheduler/estimates';

/**
 * Ollama's durations (ns) and counts from a final chunk (as `FinalChunkTracker.lastObject()` reads
 * it), in the ms the scheduler's estimates use; undefined when it has none.
 */
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
