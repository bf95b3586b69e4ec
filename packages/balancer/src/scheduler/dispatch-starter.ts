import { UpstreamError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext } from '../request-context';
import { untilSignal } from '../until-signal';
import type { Scheduler } from './scheduler';

/**
 * Starts the upstream dispatch of a bound request, with its timeouts (the first-byte one raised by
 * the load expected on a cold target), and turns its settlement, whatever it is, into exactly one
 * completion event for the scheduler.
 */
export class DispatchStarter {
  constructor(private readonly s: Scheduler) {}

  start(ctx: RequestContext, node: PoolNode, now: number): void {
    const s = this.s;
    const t = s.config.timeouts;
    const facts = ctx.facts!;
    const ac = new AbortController();
    ctx.upstreamAbort = ac;
    const totalMs = Math.max(1_000, t.requestTimeoutMs - (now - ctx.arrivedAt));
    // A cold target sends nothing until the model has loaded: allow for the load we expect there.
    const coldAllowance = ctx.cold ? 2 * s.estimates.loadMs(node.id, facts.model) : 0;
    // Without streaming, Ollama sends its headers only with the whole answer.
    const firstByteMs = facts.stream ? Math.min(totalMs, t.firstByteTimeoutMs + coldAllowance) : totalMs;
    const sink = ctx.sink;
    void s.deps.dispatcher
      .dispatch({
        requestId: ctx.id,
        nodeId: node.id,
        route: ctx.route,
        body: s.deps.arena.view(ctx.bodyOffset, ctx.bodyLength),
        timeouts: { firstByteMs, idleMs: t.idleTimeoutMs, totalMs },
        signal: ac.signal,
        sink: {
          onStart: (status, headers) => {
            ctx.started = true;
            ctx.firstByteAt = s.now();
            sink.onStart({ nodeId: node.id, status, headers, queueMs: ctx.queueMs, retries: ctx.retries });
          },
          onChunk: (chunk) => sink.onChunk(chunk),
          // A reader that has gone (a stream left early) never drains: the abort must still free dispatch.
          drained: sink.drained ? () => untilSignal(sink.drained!(), ac.signal) : undefined,
        },
      })
      .then(
        (outcome) => s.post({ type: 'completion', ctx, nodeId: node.id, outcome }),
        (err: unknown) =>
          s.post({
            type: 'completion',
            ctx,
            nodeId: node.id,
            outcome: { kind: 'failed', error: asUpstream(node.id, err), started: ctx.started, refused: false, latencyMs: 0, ttftMs: 0 },
          }),
      );
  }
}

function asUpstream(nodeId: string, err: unknown): UpstreamError {
  return new UpstreamError(nodeId, 0, `dispatch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
