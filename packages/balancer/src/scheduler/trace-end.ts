import type { BalancerError } from '../errors';
import type { RequestContext } from '../request-context';
import type { Outcome } from './observer';

/**
 * Ends a traced request's span with what the scheduler knows at its end (`endRequest`
 * calls it once, and only for a request that has a trace).
 */
export function endTrace(ctx: RequestContext, outcome: Outcome, error: BalancerError | undefined, okStatus: number | undefined): void {
  ctx.trace?.end({
    outcome,
    model: ctx.model,
    nodeId: ctx.nodeId,
    retries: ctx.retries,
    failover: ctx.excluded.size > 0,
    queueMs: ctx.queueMs,
    status: error ? error.status : (okStatus ?? 200),
    error,
  });
}
