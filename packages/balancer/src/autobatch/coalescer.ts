import { apportion, canonicalJson, type EmbedCall, embedAnswerOf, embedCallOf, normalizeModel, type Route } from '@ollama-ring/protocol';
import type { BalancerConfig } from '../config/types';
import type { BalancerError } from '../errors';
import type { AutobatchMetrics } from '../metrics-autobatch';
import type { CallOptions, Pipeline } from '../pipeline';
import type { ResponseSink } from '../response-sink';
import type { PoolView } from '../scheduler/pool-view';
import { type EmbedResult, type RunningEmbed, runEmbed } from './embed-call';
import { partsFor } from './split-plan';
import { isRejection, validateRequest } from '../stages/validate-request';

/** On a coalesced answer: how many requests shared its upstream call. */
export const COALESCED_HEADER = 'x-ollama-ring-coalesced';

/** A request handed to the coalescer; `leave` when its client goes (the others are not affected). */
export interface EmbedTicket {
  leave(): void;
}

export interface CoalescerDeps {
  config: () => BalancerConfig;
  pipeline: () => Pipeline;
  view: () => PoolView;
  /** Whether some node that could serve `model` has a free slot now (cheap: asked at each window's end). */
  freeSlotFor: (model: string) => boolean;
  metrics?: AutobatchMetrics;
}

interface Member {
  readonly call: EmbedCall;
  readonly sink: ResponseSink;
  left: boolean;
}

/** The requests gathered for one upstream call. */
interface Batch {
  readonly key: string;
  readonly common: Record<string, unknown>;
  readonly opts: CallOptions;
  readonly members: Member[];
  inputs: number;
  bytes: number;
  timer?: NodeJS.Timeout;
  running?: RunningEmbed;
  /** Its window has ended, and it goes on gathering until a slot could take it (see `windowEnded`). */
  stretched?: boolean;
}

const encoder = new TextEncoder();

/**
 * Writes one caller's answer to its sink as a proxied answer of known length. A sink that throws
 * (its client gone mid-write) is that caller's alone: the others are still answered.
 */
function deliver(m: Member, answer: Record<string, unknown>, r: EmbedResult, shared: number, latencyMs: number): void {
  try {
    const bytes = encoder.encode(JSON.stringify(answer));
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(bytes.length), [COALESCED_HEADER]: String(shared) };
    m.sink.onStart({ nodeId: r.nodes.join(','), status: 200, headers, queueMs: r.queueMs, retries: r.retries, fallbackFrom: r.fallbackFrom });
    m.sink.onChunk(bytes);
    m.sink.onEnd({ ttftMs: latencyMs, latencyMs });
  } catch {
    m.left = true;
  }
}

/**
 * Coalesces concurrent embedding requests (`/api/embed`, `/v1/embeddings`, and with
 * `autobatch.legacy` the legacy `/api/embeddings`) into one upstream `/api/embed` call with an
 * `input` array, and answers each caller with exactly its own vectors, in its API's shape.
 *
 * It sits in front of the pipeline rather than in it: the combined call is then one ordinary
 * request (admitted, queued, bound late to one slot, retried, measured), and the scheduler, which
 * binds one body to one slot and knows nothing of Ollama, stays as it is. Requests share a call only
 * when their upstream body is the same but for the input (`EmbedCall.key`: model, `truncate`,
 * `dimensions`, `options`, `keep_alive`), and so are their client (rate limits stay per client) and
 * routing hints. The first request of a call waits `windowMs` for others; a call is sent at once when
 * it reaches `maxInputs` inputs or `maxBytes` of text. When the window ends while an earlier call of
 * the same kind is still running and no node that could serve the model has a free slot, the call
 * would only wait in the queue for that slot: it goes on gathering instead, and is sent when that
 * earlier call ends, when a slot frees elsewhere (checked every `windowMs`), or when it is full. So
 * the busier the pool, the larger the calls: a saturated node gets one call of every request that
 * arrived while its last call ran, not a queue of small ones. A call above `splitAbove` inputs (one large
 * request, or many) is split across the nodes that have the model loaded (`partsFor`).
 *
 * Each caller gets the combined call's durations and its share of `prompt_eval_count` (OpenAI's
 * `usage`), in proportion to its inputs' bytes, in whole tokens that add up to the call's count.
 * An error of the call reaches every caller, in its API's shape; a caller that leaves takes nothing
 * from the others, and a call all of whose callers left is cancelled.
 */
export class EmbedCoalescer {
  private readonly open = new Map<string, Batch>();
  /** Calls sent and not yet answered, by batch key. */
  private readonly running = new Map<string, number>();

  constructor(private readonly deps: CoalescerDeps) {}

  /**
   * Takes an embedding request, or returns undefined when it is not one to coalesce (another route,
   * coalescing off and the input small, a body outside the plain form): the caller then sends it
   * through the pipeline as it is. Never throws; every outcome reaches `sink`.
   */
  offer(route: Route, body: Uint8Array, sink: ResponseSink, opts: CallOptions = {}): EmbedTicket | undefined {
    const full = this.deps.config();
    const cfg = full.autobatch;
    const call = embedCallOf(route, body);
    if (call === undefined) return undefined;
    const split = cfg.splitAbove > 0 && call.inputs.length > cfg.splitAbove;
    if (!split && (!cfg.enabled || (call.shape === 'legacy' && !cfg.legacy))) return undefined;
    // A request its own route's validation refuses goes through the pipeline alone, so that its
    // answer is the one it would get without autobatch (the combined call is an /api/embed one).
    const limits = { maxPromptLength: full.validation.maxPromptLength, allowedModels: full.validation.allowedModels.map(normalizeModel) };
    if (isRejection(validateRequest(route, body, limits))) return undefined;
    // Validation counts a call's characters over all its inputs: a combined call stays under its limit.
    const maxBytes = Math.min(cfg.maxBytes, full.validation.maxPromptLength);
    const member: Member = { call, sink, left: false };
    const key = `${call.key}\n${opts.clientKey ?? ''}\n${canonicalJson(opts.hints ?? {})}`;
    const fresh = (): Batch => ({ key, common: call.common, opts: { clientKey: opts.clientKey, hints: opts.hints }, members: [], inputs: 0, bytes: 0 });
    let batch: Batch;
    if (!cfg.enabled || call.inputs.length >= cfg.maxInputs || call.bytes >= maxBytes) {
      batch = fresh(); // alone: it fills a call by itself
      batch.members.push(member);
      this.send(batch);
      return this.ticketOf(batch, member);
    }
    const current = this.open.get(key);
    if (current && (current.inputs + call.inputs.length > cfg.maxInputs || current.bytes + call.bytes > maxBytes)) this.send(current);
    batch = this.open.get(key) ?? fresh();
    batch.members.push(member);
    batch.inputs += call.inputs.length;
    batch.bytes += call.bytes;
    if (batch.inputs >= cfg.maxInputs || batch.bytes >= maxBytes) {
      this.send(batch);
    } else if (batch.timer === undefined) {
      this.open.set(key, batch);
      batch.timer = setTimeout(() => this.windowEnded(batch), cfg.windowMs);
    }
    return this.ticketOf(batch, member);
  }

  /** Sends every call still gathering, at once (a shutdown). */
  flushAll(): void {
    for (const b of [...this.open.values()]) this.send(b);
  }

  /** A call's window is over: sent, unless it would only queue behind a call of its own kind (see the class). */
  private windowEnded(batch: Batch): void {
    batch.timer = undefined;
    if ((this.running.get(batch.key) ?? 0) > 0 && !this.deps.freeSlotFor(batch.members[0].call.model)) {
      batch.stretched = true;
      batch.timer = setTimeout(() => this.windowEnded(batch), this.deps.config().autobatch.windowMs);
      return;
    }
    this.send(batch);
  }

  /** A call of `key` was answered: one gathering behind it goes now, into the slot it leaves. */
  private callEnded(key: string): void {
    const n = (this.running.get(key) ?? 1) - 1;
    if (n > 0) this.running.set(key, n);
    else this.running.delete(key);
    const next = this.open.get(key);
    if (next?.stretched) this.send(next);
  }

  private ticketOf(batch: Batch, member: Member): EmbedTicket {
    return {
      leave: () => {
        if (member.left) return;
        member.left = true;
        if (batch.running && batch.members.every((m) => m.left)) batch.running.cancel();
      },
    };
  }

  private send(batch: Batch): void {
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    batch.timer = undefined;
    if (this.open.get(batch.key) === batch) this.open.delete(batch.key);
    if (batch.running) return;
    const live = batch.members.filter((m) => !m.left);
    if (live.length === 0) return;
    const inputs = live.length === 1 ? live[0].call.inputs : live.flatMap((m) => m.call.inputs);
    const cfg = this.deps.config().autobatch;
    const parts = inputs.length > cfg.splitAbove && cfg.splitAbove > 0 ? partsFor(this.deps.view(), live[0].call.model, inputs.length, cfg) : 1;
    this.deps.metrics?.recordCall(live.length, parts);
    const started = performance.now();
    let running: RunningEmbed;
    try {
      running = runEmbed(this.deps.pipeline(), batch.common, inputs, parts, batch.opts);
    } catch (e) {
      for (const m of live) if (!m.left) m.sink.onError(e as BalancerError, false);
      return;
    }
    batch.running = running;
    this.running.set(batch.key, (this.running.get(batch.key) ?? 0) + 1);
    running.result.then(
      (r) => {
        this.callEnded(batch.key);
        const latencyMs = performance.now() - started;
        const tokens = apportion(
          r.promptTokens,
          live.map((m) => m.call.bytes),
        );
        let at = 0;
        live.forEach((m, i) => {
          const vectors = r.vectors.slice(at, at + m.call.inputs.length);
          at += m.call.inputs.length;
          if (!m.left)
            // Served by the fallback model: the answer names it, as the node's own answer would.
            deliver(
              m,
              embedAnswerOf(r.model !== undefined ? { ...m.call, model: r.model } : m.call, {
                vectors,
                promptTokens: tokens[i],
                totalDuration: r.totalDuration,
                loadDuration: r.loadDuration,
              }),
              r,
              live.length,
              latencyMs,
            );
        });
      },
      (e: BalancerError) => {
        this.callEnded(batch.key);
        for (const m of live) if (!m.left) m.sink.onError(e, false);
      },
    );
  }
}
