/**
 * Small helpers the strategies share: which candidates can take a request now, and the stable
 * orders they break ties with. Kept apart so every strategy breaks ties the same way.
 */
import type { PoolNode } from '../nodes/node';

// Numeric collation so `gpu-2` sorts before `gpu-10`, as an operator reading the config expects.
const collator = new Intl.Collator('en', { numeric: true });

/**
 * Orders node ids: numeric-aware, then by code unit so the order is total.
 *
 * @example
 * ['gpu-10', 'gpu-2'].sort(compareIds); // ['gpu-2', 'gpu-10']
 */
export function compareIds(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The candidates with at least one free slot for `model`, sorted by id (a stable order that does
 * not depend on how the scheduler happened to list them).
 *
 * @example
 * const free = freeCandidates(candidates, req.model);
 * if (free.length === 0) return null; // keep waiting
 */
export function freeCandidates(candidates: readonly PoolNode[], model: string): PoolNode[] {
  return candidates.filter((n) => n.freeSlots(model) > 0).sort((a, b) => compareIds(a.id, b.id));
}

/**
 * Tie-break shared by the load-based strategies: lower `load()` (in-flight / capacity), then lower
 * `spec.priority` (lower is preferred), then id.
 *
 * @example
 * free.sort(byLoadThenPriority)[0]; // least loaded, best priority
 */
export function byLoadThenPriority(a: PoolNode, b: PoolNode): number {
  return a.load() - b.load() || a.spec.priority - b.spec.priority || compareIds(a.id, b.id);
}

/**
 * The smallest element under `cmp` (the first one on ties), or null for an empty list.
 *
 * @example
 * minBy(free, byLoadThenPriority); // without sorting the whole list
 */
export function minBy<T>(items: readonly T[], cmp: (a: T, b: T) => number): T | null {
  let best: T | null = null;
  for (const x of items) if (best === null || cmp(x, best) < 0) best = x;
  return best;
}
