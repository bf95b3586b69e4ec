import type { PoolNode } from '../nodes/node';
import { byLoadThenPriority, freeCandidates, minBy } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * The node with the lowest in-flight count relative to its capacity (`load()`), among those with a
 * free slot; ties go to the lower `spec.priority` value, then the id. This is nginx's `least_conn`
 * with weights expressed as slot counts, and the seeds' `least_loaded`.
 *
 * @example
 * // a: 2 of 4 busy (0.5), b: 1 of 4 busy (0.25) → b
 * new LeastInFlightStrategy().select([a, b], req, ctx); // b
 */
export class LeastInFlightStrategy implements Strategy {
  readonly name = 'least-in-flight';

  select(candidates: readonly PoolNode[], req: RoutingRequest, _ctx: RoutingContext): PoolNode | null {
    return minBy(freeCandidates(candidates, req.model), byLoadThenPriority);
  }
}
