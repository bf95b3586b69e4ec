import type { PoolNode } from '../nodes/node';
import type { RequestFacts } from '../stages/request-facts';
import type { RoutingContext } from '../strategies/strategy';

/**
 * The rules of the two hints every strategy honours, `max_latency` (a latency budget) and
 * `fallback_model`, as pure functions of what the scheduler knows: free slots, the expected slot
 * waits (`slot-table.ts`), the requests ahead in the wait queue, and the learned first-byte and
 * service times (`estimates.ts`). The slot binder applies them before any strategy chooses; see the
 * balancer README ("Hints and strategies") for the rules in words.
 */

/** Why a request was switched to its fallback model (the `reason` label of `fallbacks_total`). */
export type FallbackReason = 'not_installed' | 'unavailable' | 'deadline' | 'budget';

/** How much time a request has left, in ms from now. */
export interface HintLimits {
  /** Until its queue deadline (`queue.maxWaitMs` after it first queued): it must have a slot by then. */
  readonly queueLeftMs: number;
  /** Until its latency budget runs out (counted from arrival); undefined without a budget. */
  readonly budgetLeftMs: number | undefined;
  /** The wait caused by the requests for the same model ahead of it in the queue ({@link aheadMs}). */
  readonly aheadMs: number;
}

/** What the rules read of a request: its model and prompt, and whether the client reads a stream. */
export type HintFacts = Pick<RequestFacts, 'model' | 'promptTokens' | 'outputTokens' | 'stream' | 'optionsSignature'>;

/**
 * ms from now until `node` could start the request: 0 with a free slot, else the expected slot wait
 * (an unknown wait on a busy node is no promise: Infinity), plus the wait for the requests ahead.
 */
export function startMs(node: PoolNode, facts: HintFacts, limits: HintLimits, ctx: RoutingContext): number {
  if (node.freeSlots(facts.model) > 0) return limits.aheadMs;
  const wait = ctx.expectedSlotWaitMs(node, facts.model);
  return (Number.isNaN(wait) ? Infinity : Math.max(0, wait)) + limits.aheadMs;
}

/**
 * ms from the start on `node` until the client sees the answer begin, as learned: a stream's first
 * byte, or a non-streamed answer whole (its headers leave with its last byte), the model's load
 * included when it is not hot there. 0 while the pool has learned nothing of the model: the priors
 * can be far off for an unknown model or machine, so a node is never avoided on priors alone.
 */
export function answerMs(node: PoolNode, facts: HintFacts, ctx: RoutingContext): number {
  const est = ctx.estimates;
  const cold = !node.isHot(facts.model, facts.optionsSignature, ctx.now);
  const ms = facts.stream ? est.expectedFirstByteMs(node.id, facts.model, facts.promptTokens, cold) : est.expectedServiceMs(node.id, facts.model, facts, cold);
  return ms ?? 0;
}

/**
 * How far past its limits `node` would serve the request, in ms: the later of its start past the
 * queue deadline and (with a budget) its answer past the budget. ≤ 0: in time.
 */
export function latenessMs(node: PoolNode, facts: HintFacts, limits: HintLimits, ctx: RoutingContext): number {
  const start = startMs(node, facts, limits, ctx);
  const late = start - limits.queueLeftMs;
  if (limits.budgetLeftMs === undefined) return late;
  return Math.max(late, start + answerMs(node, facts, ctx) - limits.budgetLeftMs);
}

/** The least lateness among `nodes` (the routable ones that have the model); Infinity when there are none. */
export function bestLatenessMs(nodes: readonly PoolNode[], facts: HintFacts, limits: HintLimits, ctx: RoutingContext): number {
  let best = Infinity;
  for (const n of nodes) best = Math.min(best, latenessMs(n, facts, limits, ctx));
  return best;
}

/** Whether `node` is predicted to meet the request's latency budget (always, without one). */
export function meetsBudget(node: PoolNode, facts: HintFacts, limits: HintLimits, ctx: RoutingContext): boolean {
  if (limits.budgetLeftMs === undefined) return true;
  return startMs(node, facts, limits, ctx) + answerMs(node, facts, ctx) <= limits.budgetLeftMs;
}

/**
 * The candidates a request with a latency budget is offered: those predicted to meet it, or, when
 * none is, all of them (the strategy's normal choice; `met` false). Without a budget, `candidates`
 * itself, untouched.
 */
export function budgetCandidates(candidates: PoolNode[], facts: HintFacts, limits: HintLimits, ctx: RoutingContext): { nodes: PoolNode[]; met: boolean } {
  if (limits.budgetLeftMs === undefined) return { nodes: candidates, met: true };
  const within = candidates.filter((n) => meetsBudget(n, facts, limits, ctx));
  return within.length > 0 ? { nodes: within, met: true } : { nodes: candidates, met: false };
}

/**
 * The switch rule: a request moves to its fallback model only when its primary is late on every
 * routable node (lateness > 0, Infinity with no routable node) and the fallback would be less late
 * (so a fallback that is in time always wins, and one with no routable node never does).
 *
 * @example
 * shouldFallBack(Infinity, 0);  // primary's nodes all down, fallback free now → true
 * shouldFallBack(-200, -5_000); // primary in time: never switched, however fast the fallback
 */
export function shouldFallBack(primaryLatenessMs: number, fallbackLatenessMs: number): boolean {
  return primaryLatenessMs > 0 && fallbackLatenessMs < primaryLatenessMs;
}

/**
 * The wait the requests ahead add: `ahead` requests for the model, served by `nodes` at their
 * combined rate (Σ slots ÷ learned service time), take `ahead ÷ rate` ms before this one's turn.
 */
export function aheadMs(ahead: number, nodes: readonly PoolNode[], model: string, ctx: RoutingContext): number {
  if (ahead <= 0) return 0;
  let perMs = 0;
  for (const n of nodes) perMs += n.slotsFor(model) / Math.max(1, ctx.estimates.serviceMs(n.id, model));
  return perMs > 0 ? ahead / perMs : Infinity;
}
