/** `/api/generate`, `/api/chat`, `/api/embed` and `/api/embeddings`. */
import type { NodeContext } from '../context';
import type { ResolvedModel } from '../config';
import { EMBED_FIELDS, EMBEDDINGS_FIELDS, checkFields, checkOptions, keepAliveOf, parseJsonBody } from '../decode';
import { createdAtNow } from '../durations';
import { SimHttpError } from '../errors';
import { loadOnly, runGeneration, runPrefill, type GenerationSink } from '../generation';
import { readBody, sendJson } from '../http-util';
import { parseModelName } from '@ollama-ring/protocol';
import { countTokens, embedding, l2normalise } from '../text';
import { ChatJsonSink, ChatStreamSink, GenerateJsonSink, GenerateStreamSink } from './native-sinks';
import { prepareChat, prepareGenerate, type PreparedGeneration } from './prepare';
import type { RouteRequest } from './types';

const ns = (ms: number): number => Math.max(0, Math.round(ms * 1e6));

/** The single-object answer of a load or an unload (no metrics, even when streaming). */
function lifecycleBody(p: PreparedGeneration, reason: 'load' | 'unload'): Record<string, unknown> {
  const head = { model: p.echo, created_at: createdAtNow() };
  return p.kind === 'generate'
    ? { ...head, response: '', done: true, done_reason: reason }
    : { ...head, message: { role: 'assistant', content: '' }, done: true, done_reason: reason };
}

/**
 * Runs a prepared generation with the given sink, or answers a load/unload. Errors before the first
 * byte come back to the caller's sink as HTTP errors.
 */
export async function runPrepared(ctx: NodeContext, r: RouteRequest, p: PreparedGeneration, sink: GenerationSink, lifecycle: (reason: 'load' | 'unload') => void): Promise<void> {
  r.note('model', p.echo);
  if (p.action === 'unload') {
    ctx.scheduler.expire(p.model.key);
    lifecycle('unload');
    return;
  }
  if (p.action === 'load') {
    await loadOnly(ctx, p.model, p.options, p.keepAliveMs, r.signal);
    lifecycle('load');
    return;
  }
  await runGeneration(
    ctx,
    {
      model: p.model,
      options: p.options,
      keepAliveMs: p.keepAliveMs,
      promptTokens: p.promptTokens,
      plan: p.plan,
      faults: ctx.faults.takeStreamFaults(r.path),
      t0: r.t0,
      signal: r.signal,
    },
    sink,
  );
}

export async function handleGenerate(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const p = prepareGenerate(ctx, parseJsonBody(await readBody(r.req), 'GenerateRequest'));
  const contextSeed = p.withContext ? p.seedText : undefined;
  const sink = p.stream ? new GenerateStreamSink(r.res, p.echo, contextSeed, p.promptTokens) : new GenerateJsonSink(r.res, p.echo, contextSeed, p.promptTokens);
  await runPrepared(ctx, r, p, sink, (reason) => sendJson(r.res, 200, lifecycleBody(p, reason)));
}

export async function handleChat(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const p = prepareChat(ctx, parseJsonBody(await readBody(r.req), 'ChatRequest'));
  const sink = p.stream ? new ChatStreamSink(r.res, p.echo) : new ChatJsonSink(r.res, p.echo);
  await runPrepared(ctx, r, p, sink, (reason) => sendJson(r.res, 200, lifecycleBody(p, reason)));
}

/** An embedding call's cost beside its prefill (ms, before `timeScale`): `embedCallMs` + inputs × `embedInputMs`. */
export function embedCostMs(model: ResolvedModel, inputs: number): number {
  return model.embedCallMs + inputs * model.embedInputMs;
}

/** The vectors of an embed request, after the scheduler and prefill delay. */
export interface EmbedResult {
  vectors: number[][];
  promptTokens: number;
  loadMs: number;
}

/**
 * Shared by `/api/embed` and `/v1/embeddings`: looks up the model, holds a runner and a slot for the
 * prefill time, and returns L2-normalised vectors (truncated to `dimensions` when asked).
 */
export async function embedInputs(
  ctx: NodeContext,
  r: RouteRequest,
  echo: string,
  inputs: string[],
  options: Record<string, unknown> | undefined,
  keepAliveMs: number | undefined,
  dimensions: number | undefined,
  truncate: boolean,
): Promise<EmbedResult> {
  const model = parseModelName(echo) ? ctx.models.find(echo) : undefined;
  if (echo === '' || !parseModelName(echo)) throw new SimHttpError(404, `model '${echo}' not found`);
  if (!model) throw new SimHttpError(404, `model "${echo}" not found, try pulling it first`);
  r.note('model', echo);
  const numCtx = typeof options?.num_ctx === 'number' ? options.num_ctx : ctx.config.defaultNumCtx;
  const counts = inputs.map(countTokens);
  if (!truncate && counts.some((c) => c > numCtx)) throw new SimHttpError(400, 'the input length exceeds the context length');
  const promptTokens = counts.reduce((a, b) => a + Math.min(b, numCtx), 0);
  if (dimensions !== undefined && (dimensions < 0 || dimensions > model.embeddingLength)) {
    throw new SimHttpError(400, `invalid dimensions: must be between 0 and ${model.embeddingLength}`);
  }
  // One call costs a fixed overhead plus each input's share, beside the prefill of every token: what
  // a batched call saves is the overhead of the calls it replaces.
  const { loadMs } = await runPrefill(ctx, model, options, keepAliveMs, promptTokens, r.t0, r.signal, embedCostMs(model, inputs.length));
  const vectors = inputs.map((text) => {
    const v = embedding(model.seedName, text, model.embeddingLength, true);
    return dimensions ? l2normalise(v.slice(0, dimensions)) : v;
  });
  return { vectors, promptTokens, loadMs };
}

export async function handleEmbed(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const body = parseJsonBody(await readBody(r.req), 'EmbedRequest');
  checkFields(body, 'EmbedRequest', EMBED_FIELDS);
  const echo = (body.model as string | undefined) ?? '';
  const options = checkOptions(body.options);
  const keepAliveMs = keepAliveOf(body);
  let inputs: string[];
  const input = body.input;
  if (input === undefined || input === null || input === '') inputs = [];
  else if (typeof input === 'string') inputs = [input];
  else if (Array.isArray(input) && input.every((s) => typeof s === 'string')) inputs = input as string[];
  else throw new SimHttpError(400, 'invalid input type');
  if (inputs.length === 0) {
    // An empty input only loads the model.
    const model = parseModelName(echo) ? ctx.models.find(echo) : undefined;
    if (echo === '' || !parseModelName(echo)) throw new SimHttpError(404, `model '${echo}' not found`);
    if (!model) throw new SimHttpError(404, `model "${echo}" not found, try pulling it first`);
    await loadOnly(ctx, model, options, keepAliveMs, r.signal);
    sendJson(r.res, 200, { model: echo, embeddings: [] });
    return;
  }
  const dims = typeof body.dimensions === 'number' ? body.dimensions : undefined;
  const res = await embedInputs(ctx, r, echo, inputs, options, keepAliveMs, dims, body.truncate !== false);
  sendJson(r.res, 200, {
    model: echo,
    embeddings: res.vectors,
    total_duration: ns(ctx.ticker.now() - r.t0),
    load_duration: ns(res.loadMs),
    prompt_eval_count: res.promptTokens,
  });
}

export async function handleEmbeddings(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const body = parseJsonBody(await readBody(r.req), 'EmbeddingRequest');
  checkFields(body, 'EmbeddingRequest', EMBEDDINGS_FIELDS);
  const echo = (body.model as string | undefined) ?? '';
  if (echo === '') throw new SimHttpError(400, 'model is required');
  const model = parseModelName(echo) ? ctx.models.find(echo) : undefined;
  if (!model) throw new SimHttpError(404, `model "${echo}" not found, try pulling it first`);
  r.note('model', echo);
  const options = checkOptions(body.options);
  const keepAliveMs = keepAliveOf(body);
  const prompt = (body.prompt as string | undefined) ?? '';
  if (prompt === '') {
    await loadOnly(ctx, model, options, keepAliveMs, r.signal);
    sendJson(r.res, 200, { embedding: [] });
    return;
  }
  await runPrefill(ctx, model, options, keepAliveMs, countTokens(prompt), r.t0, r.signal, embedCostMs(model, 1));
  // The legacy endpoint returns raw, unnormalised values.
  sendJson(r.res, 200, { embedding: embedding(model.seedName, prompt, model.embeddingLength, false) });
}
