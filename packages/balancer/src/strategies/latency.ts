import type { PoolNode } from '../nodes/node';
import { byLoadThenPriority, freeCandidates, minBy } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * The free node with the lowest observed latency (`estimates.latencyMs`, an EWMA of whole-request
 * latency per node); ties go to the less loaded node, then lower priority value, then id.
 *
 * Exploration: a node never observed (`estimates.samples(id) === 0`) with nothing in flight is
 * tried first, so a new or restarted node gets a chance instead of sitting behind the others'
 * measured latencies for ever. Once it has a request in flight it competes with the prior
 * (`latencyMs` of an unobserved node is the configured prior), so it is probed by one request at a
 * time rather than flooded.
 *
 * @example
 * // a: 800 ms EWMA, b: 2 400 ms EWMA, both free → a
 * new LatencyStrategy().select([a, b], req, ctx);
 */
export class LatencyStrategy implements Strategy {
  readonly name = 'latency';

  select(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): PoolNode | null {
    const est = ctx.estimates;
    const score = (n: PoolNode): number => (est.samples(n.id) === 0 && n.inFlight === 0 ? -Infinity : est.latencyMs(n.id));
    return minBy(freeCandidates(candidates, req.model), (a, b) => score(a) - score(b) || byLoadThenPriority(a, b));
  }
}
