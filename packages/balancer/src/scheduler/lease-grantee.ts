/**
 * The contract between the scheduler and whoever holds a lease (kept apart from both: the request
 * context names it, and the scheduler's lease part calls it).
 */
import type { NodeUrlParts } from '../nodes/node-url';
import type { Cancel } from '../upstream/cancel';

/** The node a lease was bound to, as the scheduler hands it over: its id and how to call it. */
export interface GrantedNode {
  readonly id: string;
  /** Origin, path prefix and the basic-auth header of the node's URL (`nodes/node-url.ts`). */
  readonly address: NodeUrlParts;
}

/**
 * What holds a lease outside the scheduler (the library's `Lease`, through `pipeline.select`). Told
 * once, when its request is bound; from then on it owes the scheduler exactly one `lease-released`
 * or `lease-expired` event, as a dispatch owes one completion.
 */
export interface LeaseGrantee {
  /**
   * The slot on `node` is the lease's. `cancel` fires when the balancer takes it back (the caller's
   * signal aborted, a shutdown): the holder then releases it as aborted. `model` is the one bound
   * (the request's fallback model, if it took that).
   */
  granted(node: GrantedNode, model: string, cancel: Cancel, queueMs: number): void;
}
