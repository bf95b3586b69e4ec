/**
 * The OpenAI-compatible layer (`/v1/...`). Like Ollama's middleware, each handler rewrites the OpenAI
 * request into a native body, runs the native logic, and writes OpenAI shapes. Any error, the
 * middleware's own 400s included, takes OpenAI's error shape with the native status.
 */
import type { NodeContext } from '../context';
import { parseJsonBody } from '../decode';
import { SimHttpError } from '../errors';
import { readBody, sendJson } from '../http-util';
import { embedInputs, runPrepared } from './native';
import { listedModels } from './native-models';
import { ChatCompletionJsonSink, ChatCompletionStreamSink, CompletionJsonSink, CompletionStreamSink } from './openai-sinks';
import { prepareChat, prepareGenerate } from './prepare';
import type { RouteRequest } from './types';
import { base64Floats, shortestOrRaw } from '@ollama-ring/protocol';

const bad = (message: string): SimHttpError => new SimHttpError(400, message);

/** The middleware binds with gin directly, so an empty body reads as Go's bare `EOF`. */
async function readOpenAIBody(r: RouteRequest, struct: string): Promise<Record<string, unknown>> {
  const body = await readBody(r.req);
  if (body.length === 0) throw bad('EOF');
  return parseJsonBody(body, struct);
}

/** The sampling fields both completion endpoints map into native `options`. */
function samplingOptions(b: Record<string, unknown>, topPZeroIsOne: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (b.max_tokens !== undefined && b.max_tokens !== null) o.num_predict = b.max_tokens;
  if (b.max_completion_tokens !== undefined && b.max_completion_tokens !== null) o.num_predict = b.max_completion_tokens;
  if (b.seed !== undefined && b.seed !== null) o.seed = b.seed;
  if (typeof b.stop === 'string') o.stop = [b.stop];
  else if (Array.isArray(b.stop)) o.stop = b.stop;
  o.temperature = typeof b.temperature === 'number' ? b.temperature : 1.0;
  const topP = typeof b.top_p === 'number' ? b.top_p : 1.0;
  o.top_p = topPZeroIsOne && topP === 0 ? 1.0 : topP;
  if (typeof b.frequency_penalty === 'number') o.frequency_penalty = b.frequency_penalty;
  if (typeof b.presence_penalty === 'number') o.presence_penalty = b.presence_penalty;
  return o;
}

const DATA_URI = /^data:(image\/(png|jpeg|jpg|webp))?;base64,/;

function convertContent(content: unknown): { text: string; images: string[] } {
  if (typeof content === 'string') return { text: content, images: [] };
  if (content === undefined || content === null) return { text: '', images: [] };
  if (!Array.isArray(content)) throw bad('invalid message content type');
  let text = '';
  const images: string[] = [];
  for (const part of content as Record<string, unknown>[]) {
    if (part?.type === 'text') text += typeof part.text === 'string' ? part.text : '';
    else if (part?.type === 'image_url') {
      const iu = part.image_url;
      const url = typeof iu === 'string' ? iu : (iu as { url?: unknown } | undefined)?.url;
      if (typeof url !== 'string' || !DATA_URI.test(url)) throw bad('invalid image input');
      images.push(url.slice(url.indexOf(',') + 1));
    } else throw bad('invalid message format');
  }
  return { text, images };
}

function thinkFrom(b: Record<string, unknown>): boolean | string | undefined {
  const effort = b.reasoning_effort ?? (b.reasoning as { effort?: unknown } | undefined)?.effort;
  if (effort === undefined || effort === null) return undefined;
  switch (effort) {
    case 'none':
      return false;
    case 'minimal':
      return 'low';
    case 'low':
    case 'medium':
    case 'high':
    case 'max':
      return effort as string;
    case 'xhigh':
    case 'ultra':
      return 'max';
    default:
      throw bad(`invalid reasoning value: '${String(effort)}' (must be "none", "minimal", "low", "medium", "high", "xhigh", "ultra" or "max")`);
  }
}

function formatFrom(rf: unknown): unknown {
  const r = rf as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (r?.type === 'json_object') return 'json';
  if (r?.type === 'json_schema') return r.json_schema?.schema;
  return undefined;
}

function includeUsage(b: Record<string, unknown>): boolean {
  return (b.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
}

export async function handleChatCompletions(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const b = await readOpenAIBody(r, 'ChatCompletionRequest');
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw bad(`[] is too short - 'messages'`);
  const messages = (b.messages as Record<string, unknown>[]).map((m) => {
    if (typeof m !== 'object' || m === null) throw bad('invalid message format');
    const { text, images } = convertContent(m.content);
    const native: Record<string, unknown> = { role: m.role, content: text };
    if (images.length > 0) native.images = images;
    if (Array.isArray(m.tool_calls)) {
      native.tool_calls = (m.tool_calls as { function?: { name?: string; arguments?: string } }[]).map((c) => ({
        function: { name: c.function?.name, arguments: safeJson(c.function?.arguments) },
      }));
    }
    return native;
  });
  const native: Record<string, unknown> = {
    model: b.model,
    messages,
    stream: b.stream === true,
    options: samplingOptions(b, false),
    format: formatFrom(b.response_format),
    tools: b.tools,
    think: thinkFrom(b),
  };
  const p = prepareChat(ctx, native);
  const sink = p.stream ? new ChatCompletionStreamSink(r.res, p.echo, includeUsage(b)) : new ChatCompletionJsonSink(r.res, p.echo);
  await runPrepared(ctx, r, p, sink, (reason) =>
    sendJson(r.res, 200, {
      id: `chatcmpl-${Math.floor(Math.random() * 999)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: p.echo,
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: reason }],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    }),
  );
}

function safeJson(s: unknown): unknown {
  if (typeof s !== 'string') return {};
  try {
    return JSON.parse(s);
  } catch {
    return {};
  }
}

export async function handleCompletions(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const b = await readOpenAIBody(r, 'CompletionRequest');
  if (b.prompt !== undefined && typeof b.prompt !== 'string') throw bad('invalid prompt');
  const native: Record<string, unknown> = {
    model: b.model,
    prompt: b.prompt ?? '',
    suffix: b.suffix,
    stream: b.stream === true,
    options: samplingOptions(b, true),
  };
  const p = prepareGenerate(ctx, native);
  const sink = p.stream ? new CompletionStreamSink(r.res, p.echo, includeUsage(b)) : new CompletionJsonSink(r.res, p.echo);
  await runPrepared(ctx, r, p, sink, (reason) =>
    sendJson(r.res, 200, {
      id: `cmpl-${Math.floor(Math.random() * 999)}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: p.echo,
      system_fingerprint: 'fp_ollama',
      choices: [{ text: '', index: 0, finish_reason: reason }],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    }),
  );
}

export async function handleOpenAIEmbeddings(ctx: NodeContext, r: RouteRequest): Promise<void> {
  const b = await readOpenAIBody(r, 'EmbedRequest');
  let inputs: string[];
  if (typeof b.input === 'string') inputs = [b.input];
  else if (Array.isArray(b.input) && b.input.length > 0 && b.input.every((s) => typeof s === 'string')) inputs = b.input as string[];
  else throw bad('invalid input');
  const enc = b.encoding_format;
  if (enc !== undefined && enc !== null && enc !== 'float' && enc !== 'base64') {
    throw bad(`Invalid value for 'encoding_format' = ${String(enc)}. Supported values: ['float', 'base64'].`);
  }
  const echo = typeof b.model === 'string' ? b.model : '';
  const dims = typeof b.dimensions === 'number' ? b.dimensions : undefined;
  const res = await embedInputs(ctx, r, echo, inputs, undefined, undefined, dims, true);
  const data = res.vectors.map((v, index) => ({
    object: 'embedding',
    embedding: enc === 'base64' ? base64Floats(v) : v,
    index,
  }));
  sendJson(r.res, 200, { object: 'list', data, model: echo, usage: { prompt_tokens: res.promptTokens, total_tokens: res.promptTokens } });
}

export function handleModels(ctx: NodeContext, r: RouteRequest): void {
  const list = listedModels(ctx).map((m) => ({
    id: m.name,
    object: 'model',
    created: Math.floor(m.modifiedAtMs / 1000),
    owned_by: m.namespace,
  }));
  // Ollama declares the list as a nil slice, so no models serialises as null, not [].
  sendJson(r.res, 200, { object: 'list', data: list.length > 0 ? list : null });
}

export function handleModel(ctx: NodeContext, r: RouteRequest): void {
  const id = r.params.model ?? '';
  const m = ctx.models.find(id);
  if (!m) throw new SimHttpError(404, `model '${shortestOrRaw(id)}' not found`);
  sendJson(r.res, 200, { id, object: 'model', created: Math.floor(m.modifiedAtMs / 1000), owned_by: m.namespace });
}
