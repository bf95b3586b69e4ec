import { UpstreamError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext } from '../request-context';
import type { ByteArena } from '@ollama-ring/disruptor';
import type { DispatchPort } from '../stages/dispatch-types';
import { untilSignal } from '../until-signal';
import { Cancel } from '../upstream/cancel';
import { dispatchDeadlines } from './deadlines';
import { canAssemble } from '../upstream/assembler';
import { setStreamTrue } from '@ollama-ring/protocol';
import type { PoolState, PostEvent } from './pool-state';

/** What starting a dispatch needs: the timeouts and estimates, the body, and where to post its end. */
export interface DispatchStarterDeps {
  readonly pool: Pick<PoolState, 'config' | 'estimates' | 'now'>;
  readonly arena: ByteArena;
  readonly dispatcher: DispatchPort;
  readonly post: PostEvent;
}

/**
 * Starts the upstream dispatch of a bound request, with its deadlines (`dispatchDeadlines`: fixed,
 * or learned once the pool knows the model), and turns its settlement, whatever it is, into exactly one
 * completion event for the scheduler.
 */
export class DispatchStarter {
  constructor(private readonly d: DispatchStarterDeps) {}

  start(ctx: RequestContext, node: PoolNode, now: number): void {
    const { pool, post } = this.d;
    const facts = ctx.facts!;
    const ac = new Cancel();
    ctx.upstreamAbort = ac;
    const body = this.d.arena.view(ctx.bodyOffset, ctx.bodyLength);
    // Once switched, the body asks for a stream on every later attempt too.
    if (!ctx.assembled && !facts.stream && pool.config.failover.streamUpstream && canAssemble(ctx.route)) ctx.assembled = setStreamTrue(body);
    const { timeouts, overdueMs, learnedFirstByte, learnedStall } = dispatchDeadlines(
      pool.config,
      pool.estimates,
      node.id,
      facts,
      ctx.cold,
      now - ctx.arrivedAt,
      facts.stream || ctx.assembled,
      ctx.route,
    );
    ctx.overdueAt = now + overdueMs;
    ctx.learnedFirstByte = learnedFirstByte;
    ctx.learnedStall = learnedStall;
    const sink = ctx.sink;
    void this.d.dispatcher
      .dispatch({
        requestId: ctx.id,
        nodeId: node.id,
        route: ctx.route,
        body,
        timeouts,
        assemble: ctx.assembled && canAssemble(ctx.route) ? ctx.route : undefined,
        trace: ctx.trace?.upstreamHeaders(),
        signal: ac,
        sink: {
          onStart: (status, headers) => {
            ctx.started = true;
            ctx.firstByteAt = pool.now();
            ctx.trace?.firstByte(status);
            sink.onStart({ nodeId: node.id, status, headers, queueMs: ctx.queueMs, retries: ctx.retries, fallbackFrom: ctx.fallbackFrom });
          },
          onChunk: (chunk) => sink.onChunk(chunk),
          // A reader that has gone (a stream left early) never drains: the abort must still free dispatch.
          drained: sink.drained ? () => untilSignal(sink.drained!(), ac) : undefined,
        },
      })
      .then(
        (outcome) => post({ type: 'request-completed', requestId: ctx.id, nodeId: node.id, outcome }),
        (err: unknown) =>
          post({
            type: 'request-completed',
            requestId: ctx.id,
            nodeId: node.id,
            outcome: { kind: 'failed', error: asUpstream(node.id, err), started: ctx.started, refused: false, latencyMs: 0, ttftMs: 0 },
          }),
      );
  }
}

function asUpstream(nodeId: string, err: unknown): UpstreamError {
  return new UpstreamError(nodeId, 0, `dispatch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
