import type { PoolNode } from '../nodes/node';
import type { Estimates } from '../scheduler/estimates';

/** The routing facts of one request, as validation extracted them. */
export interface RoutingRequest {
  /** Normalised model name. */
  readonly model: string;
  /** Signature of the options that force a reload (num_ctx, num_batch, num_gpu, use_mmap); '' for defaults. */
  readonly optionsSignature: string;
  /** Estimated prompt size in tokens. */
  readonly promptTokens: number;
  /** The request's output cap in tokens (`num_predict`, `max_tokens`), when it gave a positive one. */
  readonly outputTokens?: number;
  readonly requiredTags: readonly string[];
  /** Higher is served first. */
  readonly priority: number;
  /**
   * The client's latency budget, if it gave one: ms from its arrival until its answer begins. The
   * scheduler has already narrowed the candidates to the nodes predicted to meet it, when any is.
   */
  readonly latencyBudgetMs?: number;
  /** Epoch ms when the request arrived (its budget counts from then). */
  readonly arrivedAt?: number;
  /** The client's `complexity` hint (trimmed, lower case), if it gave one; `hybrid` rules match on it. */
  readonly complexity?: string;
  readonly clientKey?: string;
}

/** What a strategy may consult besides the nodes. */
export interface RoutingContext {
  /** Epoch ms (the scheduler's clock). */
  readonly now: number;
  readonly estimates: Estimates;
  /**
   * Expected ms until `node` has a free slot for `model`: 0 when it has one now; otherwise derived
   * from the start times of its in-flight requests and the learned service time.
   */
  expectedSlotWaitMs(node: PoolNode, model: string): number;
  /**
   * How many requests are waiting in the balancer's queue, besides the one being routed, for
   * models that are resident on `node` (they would take its slots without a load). Absent: unknown.
   */
  waitingFor?(node: PoolNode, model: string): number;
}

/**
 * A routing policy. `select` gets every node that could serve the request (routable, has the
 * model, has the tags), with or without a free slot, and returns the node to bind to now, or null
 * to keep the request waiting in the balancer's queue. Returning a node without a free slot also
 * means "wait". Strategies keep only their own state (a round-robin cursor); they never mutate nodes.
 */
export interface Strategy {
  readonly name: string;
  select(candidates: readonly PoolNode[], req: RoutingRequest, ctx: RoutingContext): PoolNode | null;
}
