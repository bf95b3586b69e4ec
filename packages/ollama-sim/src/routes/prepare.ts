/**
 * Turns a decoded `/api/generate` or `/api/chat` body into a plan: which model, whether this is an
 * unload, a load or a generation, how many prompt tokens, and the output. The checks run in the
 * order Ollama's handlers run them, so the first error a client sees is the one Ollama would send.
 * The OpenAI layer rewrites its requests into these same bodies, as Ollama's middleware does.
 */
import type { ResolvedModel } from '../config';
import type { NodeContext } from '../context';
import { CHAT_FIELDS, GENERATE_FIELDS, checkFields, checkOptions, keepAliveOf, tryStringify } from '../decode';
import { SimHttpError } from '../errors';
import { parseModelName } from '@ollama-ring/protocol';
import { runnerOptions } from '../runner';
import { countTokens, planOutput, type OutputPlan, type ToolSpec } from '../text';

export interface PreparedGeneration {
  kind: 'generate' | 'chat';
  /** The model string exactly as the client sent it (echoed in every chunk). */
  echo: string;
  model: ResolvedModel;
  stream: boolean;
  action: 'unload' | 'load' | 'generate';
  options: Record<string, unknown> | undefined;
  keepAliveMs: number | undefined;
  promptTokens: number;
  plan: OutputPlan;
  /** Whether the final generate chunk carries `context` (not in raw mode). */
  withContext: boolean;
  seedText: string;
}

export interface ChatMessage {
  role: string;
  content: string;
  images?: string[];
  tool_calls?: unknown[];
}

const EMPTY_PLAN: OutputPlan = { pieces: [], toolCalls: [], toolTokens: 0, doneReason: 'stop' };

function checkFormat(format: unknown): void {
  if (format === undefined || format === null || format === '' || format === 'json') return;
  if (typeof format === 'object' && !Array.isArray(format)) return;
  throw new SimHttpError(400, 'invalid format: expected "json" or a valid JSON schema');
}

function checkTopLogprobs(v: unknown): void {
  if (typeof v === 'number' && (v < 0 || v > 20)) throw new SimHttpError(400, 'top_logprobs must be between 0 and 20');
}

/** Whether thinking is on: explicit `think`, else on by default for thinking-capable models. */
function thinkingOn(think: unknown, model: ResolvedModel, echo: string): boolean {
  const capable = model.capabilities.includes('thinking');
  if (think === undefined || think === null) return capable;
  const wanted = think !== false;
  if (wanted && !capable) throw new SimHttpError(400, `"${echo}" does not support thinking`);
  return wanted;
}

function isZeroKeepAlive(v: number | undefined): boolean {
  return v !== undefined && v === 0;
}

function outputPlan(
  ctx: NodeContext,
  model: ResolvedModel,
  options: Record<string, unknown> | undefined,
  promptTokens: number,
  seedText: string,
  think: boolean,
  format: unknown,
  tools: ToolSpec[] | undefined,
): OutputPlan {
  const numPredict = typeof options?.num_predict === 'number' ? options.num_predict : 0;
  const numCtx = runnerOptions(options, ctx.config.defaultNumCtx).numCtx;
  const room = Math.max(1, numCtx - promptTokens);
  const limit = numPredict > 0 ? Math.min(numPredict, room) : room;
  const seed = typeof options?.seed === 'number' ? options.seed : ctx.config.seed;
  const stop = Array.isArray(options?.stop) ? (options.stop as string[]) : undefined;
  return planOutput({
    seedText,
    seed,
    minTokens: model.responseTokens.min,
    maxTokens: model.responseTokens.max,
    limit,
    think,
    format: format === '' || format === null ? undefined : format,
    tools,
    stop,
  });
}

/** `/api/generate` (and `/v1/completions`, rewritten). Throws SimHttpError with Ollama's status and text. */
export function prepareGenerate(ctx: NodeContext, body: Record<string, unknown>): PreparedGeneration {
  checkFields(body, 'GenerateRequest', GENERATE_FIELDS);
  const echo = (body.model as string | undefined) ?? '';
  const prompt = (body.prompt as string | undefined) ?? '';
  const raw = body.raw === true;
  if (raw && (body.template || body.system || (Array.isArray(body.context) && body.context.length > 0))) {
    throw new SimHttpError(400, 'raw mode does not support template, system, or context');
  }
  checkTopLogprobs(body.top_logprobs);
  checkFormat(body.format);
  // Ollama answers an unparsable name here with 404 rather than "invalid model name".
  const model = parseModelName(echo) ? ctx.models.find(echo) : undefined;
  if (!model) throw new SimHttpError(404, `model '${echo}' not found`);
  const options = checkOptions(body.options);
  const keepAliveMs = keepAliveOf(body);
  const stream = body.stream !== false;
  const base = { kind: 'generate' as const, echo, model, stream, options, keepAliveMs, withContext: !raw };
  if (prompt === '' && isZeroKeepAlive(keepAliveMs)) {
    return { ...base, action: 'unload', promptTokens: 0, plan: EMPTY_PLAN, seedText: '' };
  }
  if (!model.capabilities.includes('completion')) throw new SimHttpError(400, `"${echo}" does not support generate`);
  if (typeof body.suffix === 'string' && body.suffix !== '' && !model.capabilities.includes('insert')) {
    throw new SimHttpError(400, `${model.fullName} does not support insert`);
  }
  const think = thinkingOn(body.think, model, echo);
  if (prompt === '') return { ...base, action: 'load', promptTokens: 0, plan: EMPTY_PLAN, seedText: '' };
  const system = raw ? '' : ((body.system as string | undefined) ?? model.system ?? '');
  const images = Array.isArray(body.images) ? body.images.length : 0;
  // Template overhead: a few tokens of role markers around the prompt unless raw.
  const promptTokens = Math.max(1, countTokens(system) + countTokens(prompt) + countTokens((body.suffix as string) ?? '') + images * 768 + (raw ? 0 : 6));
  const seedText = `${model.seedName}\n${system}\n${prompt}`;
  const plan = outputPlan(ctx, model, options, promptTokens, seedText, think, body.format, undefined);
  return { ...base, action: 'generate', promptTokens, plan, seedText };
}

function checkMessages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    throw new SimHttpError(
      400,
      `json: cannot unmarshal ${typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : typeof v} into Go struct field ChatRequest.messages of type []api.Message`,
    );
  }
  return v.map((m: unknown) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw new SimHttpError(400, `json: cannot unmarshal ${Array.isArray(m) ? 'array' : typeof m} into Go struct field ChatRequest.messages of type api.Message`);
    }
    const msg = m as Record<string, unknown>;
    for (const f of ['role', 'content', 'thinking', 'tool_name', 'tool_call_id']) {
      const x = msg[f];
      if (x !== undefined && x !== null && typeof x !== 'string') {
        throw new SimHttpError(
          400,
          `json: cannot unmarshal ${Array.isArray(x) ? 'array' : typeof x === 'boolean' ? 'bool' : typeof x} into Go struct field ChatRequest.messages.${f} of type string`,
        );
      }
    }
    return {
      role: ((msg.role as string | undefined) ?? '').toLowerCase(),
      content: (msg.content as string | undefined) ?? '',
      images: Array.isArray(msg.images) ? (msg.images as string[]) : undefined,
      tool_calls: Array.isArray(msg.tool_calls) ? msg.tool_calls : undefined,
    };
  });
}

function toolSpecs(v: unknown): ToolSpec[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.map((t) => (t as { function?: ToolSpec }).function).filter((f): f is ToolSpec => !!f && typeof f.name === 'string');
}

/** `/api/chat` (and `/v1/chat/completions`, rewritten). Throws SimHttpError with Ollama's status and text. */
export function prepareChat(ctx: NodeContext, body: Record<string, unknown>): PreparedGeneration {
  checkFields(body, 'ChatRequest', CHAT_FIELDS);
  const messages = checkMessages(body.messages);
  const echo = (body.model as string | undefined) ?? '';
  if (echo === '') throw new SimHttpError(400, 'model is required');
  if (!parseModelName(echo)) throw new SimHttpError(400, 'invalid model name');
  checkTopLogprobs(body.top_logprobs);
  checkFormat(body.format);
  const model = ctx.models.find(echo);
  if (!model) throw new SimHttpError(404, `model '${echo}' not found`);
  const options = checkOptions(body.options);
  const keepAliveMs = keepAliveOf(body);
  const stream = body.stream !== false;
  const base = { kind: 'chat' as const, echo, model, stream, options, keepAliveMs, withContext: false };
  if (messages.length === 0 && isZeroKeepAlive(keepAliveMs)) {
    return { ...base, action: 'unload', promptTokens: 0, plan: EMPTY_PLAN, seedText: '' };
  }
  if (!model.capabilities.includes('completion')) throw new SimHttpError(400, `"${echo}" does not support chat`);
  const tools = toolSpecs(body.tools);
  if (tools && !model.capabilities.includes('tools')) throw new SimHttpError(400, `${model.fullName} does not support tools`);
  const think = thinkingOn(body.think, model, echo);
  if (messages.length === 0) return { ...base, action: 'load', promptTokens: 0, plan: EMPTY_PLAN, seedText: '' };
  let promptTokens = model.system ? countTokens(model.system) + 4 : 0;
  let seedText = model.seedName;
  for (const m of messages) {
    promptTokens += countTokens(m.content) + 4 + (m.images?.length ?? 0) * 768;
    seedText += `\n${m.role}:${m.content}`;
  }
  if (tools) promptTokens += countTokens(tryStringify(body.tools) ?? '');
  promptTokens = Math.max(1, promptTokens);
  // Call a tool when offered one and the last word is the user's; after a tool result, answer in text.
  const last = messages[messages.length - 1];
  const callTool = tools && tools.length > 0 && last.role !== 'tool' ? tools : undefined;
  const plan = outputPlan(ctx, model, options, promptTokens, seedText, think, body.format, callTool);
  return { ...base, action: 'generate', promptTokens, plan, seedText };
}
