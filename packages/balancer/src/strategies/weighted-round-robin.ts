import type { PoolNode } from '../nodes/node';
import { freeCandidates } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * Smooth weighted round-robin, the way nginx does it: on every pick each eligible node's `current`
 * grows by its weight, the node with the largest `current` wins (the first in id order on ties),
 * and the winner's `current` drops by the sum of the eligible weights. Weights 5, 1, 1 give
 * a a b a c a a, spreading the light nodes out instead of bunching them.
 *
 * Eligible means a free slot for the model (nginx likewise skips peers at max_conns). Weights come
 * from `spec.weight`; nginx's failure-reduced effective weight is left out because the circuit
 * breaker already removes failing nodes. A node with weight ≤ 0 is used only when no node with a
 * positive weight is free.
 *
 * @example
 * const wrr = new WeightedRoundRobinStrategy();
 * // weights a=5, b=1, c=1 → a a b a c a a
 */
export class WeightedRoundRobinStrategy implements Strategy {
  readonly name = 'weighted-round-robin';
  private readonly current = new Map<string, number>();

  select(candidates: readonly PoolNode[], req: RoutingRequest, _ctx: RoutingContext): PoolNode | null {
    const free = freeCandidates(candidates, req.model);
    if (free.length === 0) return null;
    const weighted = free.filter((n) => weightOf(n) > 0);
    if (weighted.length === 0) return free[0];
    let total = 0;
    let best: PoolNode | null = null;
    let bestCurrent = -Infinity;
    for (const n of weighted) {
      const w = weightOf(n);
      const c = (this.current.get(n.id) ?? 0) + w;
      this.current.set(n.id, c);
      total += w;
      if (c > bestCurrent) {
        best = n;
        bestCurrent = c;
      }
    }
    // `weighted` is non-empty, so a best exists.
    const chosen = best as PoolNode;
    this.current.set(chosen.id, bestCurrent - total);
    return chosen;
  }
}

function weightOf(n: PoolNode): number {
  const w = n.spec.weight;
  return Number.isFinite(w) && w > 0 ? w : 0;
}
