/**
 * One request of a workflow task through the pipeline, as any request goes (scheduler, strategy,
 * node retries, deadlines), with the run's request class. A refusal of the pool as a whole (ring,
 * queue or rate limit full) waits and is offered again, as a batch line is: nothing ran it.
 */
import { Route } from '@ollama-ring/protocol';
import { BalancerError, isPoolRefusal, RequestAbortedError } from '../errors';
import type { CallOptions, RawRequest } from '../pipeline';
import type { RequestClass } from '../request-class';
import type { ResponseSink } from '../response-sink';
import type { TokenCounts, WorkflowMethod } from './types';
import { sleepUnless } from '../until-signal';

/** What the runner needs of a pipeline (a `Pipeline` is one). */
export interface WorkflowPipeline {
  execute(req: RawRequest, sink: ResponseSink, opts?: CallOptions): number;
}

export const ROUTE_OF: Readonly<Record<WorkflowMethod, Route>> = {
  'llm/chat': Route.Chat,
  'llm/generate': Route.Generate,
  'llm/embed': Route.Embed,
};

export type CallAnswer = { ok: true; body: Record<string, unknown>; node: string; queueMs: number; tokens: TokenCounts } | { ok: false; error: BalancerError; node?: string };

export interface CallSettings {
  signal: AbortSignal;
  requestClass: RequestClass;
  clientKey?: string;
  /** Told the node as soon as one answers. */
  onNode?: (nodeId: string) => void;
}

/** Sends `body` to the method's route and collects the whole answer. */
export async function callPipeline(pipeline: () => WorkflowPipeline, method: WorkflowMethod, body: Record<string, unknown>, s: CallSettings): Promise<CallAnswer> {
  const route = ROUTE_OF[method];
  // A task's answer is used whole: generation is asked not to stream (the balancer still streams
  // it upstream, so the same deadlines apply).
  const bytes = Buffer.from(JSON.stringify(method === 'llm/embed' ? body : { ...body, stream: false }));
  let wait = 50;
  for (;;) {
    const a = await once(pipeline(), route, bytes, s);
    if (a.ok || !isPoolRefusal(a.error) || s.signal.aborted) return a;
    await sleepUnless(Math.min(Math.max(wait, (a.error.retryAfterSec ?? 0) * 1000), 5_000), s.signal);
    wait = Math.min(wait * 2, 1_000);
    if (s.signal.aborted) return { ok: false, error: new RequestAbortedError('the workflow was cancelled') };
  }
}

function once(pipeline: WorkflowPipeline, route: Route, bytes: Buffer, s: CallSettings): Promise<CallAnswer> {
  return new Promise<CallAnswer>((resolve) => {
    const parts: Buffer[] = [];
    let node: string | undefined;
    let queueMs = 0;
    const sink: ResponseSink = {
      onStart: (info) => {
        node = info.nodeId;
        queueMs = info.queueMs;
        s.onNode?.(info.nodeId);
      },
      onChunk: (chunk) => void parts.push(Buffer.from(chunk)),
      onEnd: (info) => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
        } catch {
          return resolve({ ok: false, node, error: new BalancerError('ERR_WORKFLOW_BAD_ANSWER', 502, 'the answer was not JSON') });
        }
        const tokens = {
          prompt: num(body.prompt_eval_count) ?? info.final?.promptTokens ?? 0,
          completion: num(body.eval_count) ?? info.final?.evalTokens ?? 0,
        };
        resolve({ ok: true, body, node: node ?? '?', queueMs, tokens });
      },
      onError: (error) => resolve({ ok: false, error, node }),
    };
    try {
      pipeline.execute({ route, body: bytes }, sink, { signal: s.signal, clientKey: s.clientKey, requestClass: s.requestClass });
    } catch (e) {
      resolve({ ok: false, error: e instanceof BalancerError ? e : new BalancerError('ERR_INTERNAL', 500, e instanceof Error ? e.message : String(e)) });
    }
  });
}

/** The answer's text: a chat's message, a generation's response, an embedding call's vectors. */
export function outputOf(method: WorkflowMethod, body: Record<string, unknown>): unknown {
  if (method === 'llm/chat') return (body.message as { content?: unknown } | undefined)?.content ?? '';
  if (method === 'llm/generate') return body.response ?? '';
  return body.embeddings ?? [];
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
