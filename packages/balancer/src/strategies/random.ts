import type { PoolNode } from '../nodes/node';
import { freeCandidates } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type Rng = () => number;

/**
 * Picks uniformly among the nodes with a free slot. The random source is a constructor parameter so
 * tests (and seeded benchmarks) are deterministic.
 *
 * @example
 * const r = new RandomStrategy(() => 0.99); // always the last free node in id order
 * r.select(nodes, req, ctx);
 */
export class RandomStrategy implements Strategy {
  readonly name = 'random';

  constructor(private readonly rng: Rng = Math.random) {}

  select(candidates: readonly PoolNode[], req: RoutingRequest, _ctx: RoutingContext): PoolNode | null {
    const free = freeCandidates(candidates, req.model);
    if (free.length === 0) return null;
    // Clamp: a sloppy RNG returning exactly 1 (or a negative) must not index out of range.
    const i = Math.min(free.length - 1, Math.max(0, Math.floor(this.rng() * free.length)));
    return free[i];
  }
}
