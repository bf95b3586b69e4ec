import type { ByteArena } from '@ollama-ring/disruptor';
import type { BalancerError } from '../errors';
import type { RequestContext, RequestTable } from '../request-context';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { Outcome, SchedulerObserver } from './observer';
import { endTrace } from './trace-end';

/** What ending a request touches: the live requests, the body arena, and who is told. */
export interface RequestEndDeps {
  readonly table: RequestTable;
  readonly arena: ByteArena;
  readonly observer?: SchedulerObserver;
}

/**
 * The end of a request, once (the scheduler's `finish` guards and counts it): forgets it, frees its
 * body, tells its sink (answer or error), its trace's span, and the observer (the OUTCOME record of
 * its metrics).
 */
export function endRequest(d: RequestEndDeps, ctx: RequestContext, outcome: Outcome, now: number, error?: BalancerError, dispatch?: DispatchOutcome): void {
  ctx.state = 'done';
  clearTimeout(ctx.backoffTimer);
  ctx.detachAbort?.();
  d.table.delete(ctx.id);
  d.arena.free(ctx.bodyOffset);
  const ok = dispatch?.kind === 'ok' ? dispatch : undefined;
  try {
    if (error) ctx.sink.onError(error, ctx.started);
    else ctx.sink.onEnd({ final: ok?.final, ttftMs: ok?.ttftMs ?? 0, latencyMs: ok?.latencyMs ?? 0 });
  } catch (e) {
    // A sink that throws must not take the scheduler down with it.
    process.emitWarning(`response sink threw: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (ctx.trace) endTrace(ctx, outcome, error, ok?.status);
  d.observer?.requestEnded?.({
    requestId: ctx.id,
    model: ctx.model,
    nodeId: ctx.nodeId ?? '',
    outcome,
    errorCode: error?.code,
    latencyMs: now - ctx.arrivedAt,
    ttftMs: ctx.firstByteAt ? ctx.firstByteAt - ctx.arrivedAt : 0,
    queueMs: ctx.queueMs,
    retries: ctx.retries,
    evalTokens: ok?.final?.evalTokens ?? 0,
  });
}
