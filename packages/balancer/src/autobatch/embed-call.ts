import { Route, toJson } from '@ollama-ring/protocol';
import { type BalancerError, UpstreamError } from '../errors';
import type { CallOptions, Pipeline } from '../pipeline';
import type { EndInfo, ResponseSink, StartInfo } from '../response-sink';

/** What one upstream `/api/embed` call (or the parts of a split one) answered. */
export interface EmbedResult {
  /** One vector per input, in the inputs' order. */
  vectors: number[][];
  promptTokens: number;
  /** The longest part's durations (ns): the parts ran side by side. */
  totalDuration?: number;
  loadDuration?: number;
  /** The nodes that served it, one per part, in part order. */
  nodes: string[];
  /** The longest wait for a slot among the parts (ms), and their retries added up. */
  queueMs: number;
  retries: number;
  /** When the pipeline served it with the request's fallback model: the model asked for, and the one that answered. */
  fallbackFrom?: string;
  model?: string;
}

/** A running call: its result, and a cancel that aborts every part still running. */
export interface RunningEmbed {
  readonly result: Promise<EmbedResult>;
  cancel(reason?: BalancerError): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Sends `inputs` as `/api/embed` calls with the body `common` (model and options) through the
 * pipeline, as `parts` calls of near-equal, consecutive slices, side by side: each is admitted,
 * queued, bound to a slot late and retried by the pipeline's own rules like any request. Resolves
 * with the vectors back in the inputs' order once every part has answered; the first part that
 * fails fails the call (the others are cancelled: their answers would be of no use).
 */
export function runEmbed(pipeline: Pipeline, common: Record<string, unknown>, inputs: readonly string[], parts: number, opts: CallOptions): RunningEmbed {
  const n = Math.max(1, Math.min(parts, inputs.length));
  const ids: number[] = [];
  let failed = false;
  const cancel = (reason?: BalancerError) => {
    for (const id of ids) pipeline.cancel(id, reason);
  };
  const calls: Promise<PartAnswer>[] = [];
  const base = Math.floor(inputs.length / n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const size = base + (i < inputs.length % n ? 1 : 0);
    const slice = inputs.slice(at, at + size);
    at += size;
    calls.push(
      new Promise<PartAnswer>((resolve, reject) => {
        if (failed) return reject(new UpstreamError('', 502, 'an earlier part of the call failed'));
        const body = encoder.encode(toJson({ ...common, input: slice }));
        ids.push(pipeline.execute({ route: Route.Embed, body }, new PartSink(slice.length, resolve, reject), opts));
      }).catch((e: unknown) => {
        if (!failed) {
          failed = true;
          cancel();
        }
        throw e;
      }),
    );
  }
  const result = Promise.all(calls).then((answers) => {
    const out: EmbedResult = { vectors: [], promptTokens: 0, nodes: [], queueMs: 0, retries: 0 };
    for (const a of answers) {
      for (const v of a.vectors) out.vectors.push(v);
      out.promptTokens += a.promptTokens;
      out.nodes.push(a.start.nodeId);
      out.queueMs = Math.max(out.queueMs, a.start.queueMs);
      out.retries += a.start.retries;
      if (a.start.fallbackFrom !== undefined) {
        out.fallbackFrom = a.start.fallbackFrom;
        out.model = a.model;
      }
      if (a.totalDuration !== undefined) out.totalDuration = Math.max(out.totalDuration ?? 0, a.totalDuration);
      if (a.loadDuration !== undefined) out.loadDuration = Math.max(out.loadDuration ?? 0, a.loadDuration);
    }
    return out;
  });
  return { result, cancel };
}

interface PartAnswer {
  start: StartInfo;
  /** The model the node's answer names. */
  model?: string;
  vectors: number[][];
  promptTokens: number;
  totalDuration?: number;
  loadDuration?: number;
}

/** Gathers one part's JSON answer and checks it has a vector per input. */
class PartSink implements ResponseSink {
  private start?: StartInfo;
  private readonly chunks: Uint8Array[] = [];

  constructor(
    private readonly expected: number,
    private readonly resolve: (a: PartAnswer) => void,
    private readonly reject: (e: BalancerError) => void,
  ) {}

  onStart(info: StartInfo): void {
    this.start = info;
  }

  onChunk(chunk: Uint8Array): boolean {
    // Dispatch may reuse its buffer once this returns.
    this.chunks.push(Uint8Array.from(chunk));
    return true;
  }

  onEnd(_info: EndInfo): void {
    const start = this.start ?? { nodeId: '', status: 200, headers: {}, queueMs: 0, retries: 0 };
    const text = decoder.decode(Buffer.concat(this.chunks));
    let body: { model?: unknown; embeddings?: unknown; prompt_eval_count?: unknown; total_duration?: unknown; load_duration?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      this.reject(new UpstreamError(start.nodeId, 502, `node ${start.nodeId} sent an embed answer that is not JSON: ${text.slice(0, 200)}`));
      return;
    }
    const vectors = body.embeddings;
    if (!Array.isArray(vectors) || vectors.length !== this.expected) {
      this.reject(new UpstreamError(start.nodeId, 502, `node ${start.nodeId} answered ${Array.isArray(vectors) ? vectors.length : 'no'} embeddings for ${this.expected} inputs`));
      return;
    }
    this.resolve({
      start,
      model: typeof body.model === 'string' ? body.model : undefined,
      vectors: vectors as number[][],
      promptTokens: typeof body.prompt_eval_count === 'number' ? body.prompt_eval_count : 0,
      totalDuration: typeof body.total_duration === 'number' ? body.total_duration : undefined,
      loadDuration: typeof body.load_duration === 'number' ? body.load_duration : undefined,
    });
  }

  onError(error: BalancerError): void {
    this.reject(error);
  }
}
