import type { PoolNode } from '../nodes/node';
import { compareIds, freeCandidates } from './candidate-order';
import type { RoutingContext, RoutingRequest, Strategy } from './strategy';

/**
 * Cycles through the nodes in id order, skipping those with no free slot for the model.
 *
 * The cursor is the id of the last node picked, not an index, so it survives membership changes:
 * after a node is removed the rotation continues with the next id, and an added node takes its
 * place in id order. One cursor serves all models, as nginx's upstream rotation does.
 *
 * @example
 * const rr = new RoundRobinStrategy();
 * rr.select(nodes, req, ctx); // a, then b, then c, then a …
 */
export class RoundRobinStrategy implements Strategy {
  readonly name = 'round-robin';
  private lastId: string | null = null;

  select(candidates: readonly PoolNode[], req: RoutingRequest, _ctx: RoutingContext): PoolNode | null {
    const free = freeCandidates(candidates, req.model);
    if (free.length === 0) return null;
    const last = this.lastId;
    const next = (last === null ? undefined : free.find((n) => compareIds(n.id, last) > 0)) ?? free[0];
    this.lastId = next.id;
    return next;
  }
}
