import type { PoolNode } from '../nodes/node';
import { byLoadThenPriority, freeCandidates, minBy } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * Prefers a free node where the (model, options signature) pair is hot, which spares the request a
 * load of seconds; the least loaded of those (then lower priority value, then id). With no hot node
 * free, the least loaded of the rest. It never waits for a busy hot node: `predictive` weighs that.
 * "Hot" is `PoolNode.isHot`: a model loaded with another `num_ctx` is cold for this request.
 *
 * @example
 * // a: free, cold; b: free, llama3.2 hot with the default signature → b
 * new ModelAwareStrategy().select([a, b], { ...req, model: 'llama3.2:latest', optionsSignature: '' }, ctx);
 */
export class ModelAwareStrategy implements Strategy {
  readonly name = 'model-aware';

  select(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): PoolNode | null {
    const free = freeCandidates(candidates, req.model);
    const hot = free.filter((n) => n.isHot(req.model, req.optionsSignature, ctx.now));
    return minBy(hot.length > 0 ? hot : free, byLoadThenPriority);
  }
}
