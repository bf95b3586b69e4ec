import { Route, isEmbeddingRoute, isOpenAIRoute, jsonDepthError, normalizeModel } from '@ollama-ring/protocol';
import type { RequestFacts, RequestRejection, ValidationLimits } from './request-facts';

/** Options whose change makes Ollama reload the model (ollama-api.md §8). */
const RELOAD_OPTIONS = ['num_ctx', 'num_batch', 'num_gpu', 'use_mmap'] as const;

const decoder = new TextDecoder();

type Body = Record<string, unknown>;

/**
 * Parses and checks one request body, and extracts its routing facts. Pure: it runs inline or on a
 * validation thread alike. Errors use Ollama's own texts and statuses where Ollama has them.
 *
 * @example
 * validateRequest(Route.Chat, bytes, { maxPromptLength: 100_000, allowedModels: [] });
 * // → { model: 'llama3.2:latest', stream: true, optionsSignature: '', … } or { status: 400, message }
 */
export function validateRequest(route: Route, bytes: Uint8Array, limits: ValidationLimits): RequestFacts | RequestRejection {
  if (bytes.length === 0) return reject(400, 'missing request body');
  // Deeper than Ollama decodes is refused here, as Ollama would; what passes is forwarded as is.
  const tooDeep = jsonDepthError(bytes);
  if (tooDeep) return reject(400, tooDeep);
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    return reject(400, `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return reject(400, 'json: cannot unmarshal non-object into the request body');
  }
  const b = body as Body;
  return isOpenAIRoute(route) ? validateOpenAI(route, b, limits) : validateNative(route, b, limits);
}

export function isRejection(v: RequestFacts | RequestRejection): v is RequestRejection {
  return typeof (v as RequestRejection).status === 'number';
}

function validateNative(route: Route, b: Body, limits: ValidationLimits): RequestFacts | RequestRejection {
  const typeError = checkTypes(b, NATIVE_TYPES);
  if (typeError) return typeError;
  const rawModel = (b.model as string | undefined) ?? '';
  if (rawModel.trim() === '') {
    // Ollama answers differently per route (ollama-api.md §4).
    if (route === Route.Chat || route === Route.Embeddings) return reject(400, 'model is required');
    return reject(404, "model '' not found");
  }
  // Ollama tests for non-empty values (`req.Template != "" || req.System != "" || len(req.Context) > 0`).
  if (b.raw === true && (nonEmptyString(b.template) || nonEmptyString(b.system) || (Array.isArray(b.context) && b.context.length > 0))) {
    return reject(400, 'raw mode does not support template, system, or context');
  }
  // null is no input (a load), as in Ollama's EmbedHandler and the sim.
  if (route === Route.Embed && b.input !== undefined && b.input !== null && !isStringOrStrings(b.input)) {
    return reject(400, 'invalid input type');
  }
  const options = (b.options as Body | undefined) ?? {};
  for (const k of RELOAD_OPTIONS) {
    const v = options[k];
    if (v === undefined) continue;
    if (k === 'use_mmap' ? typeof v !== 'boolean' : !Number.isInteger(v)) {
      return reject(400, `option "${k}" must be of type ${k === 'use_mmap' ? 'boolean' : 'integer'}`);
    }
  }
  const text = promptText(route, b);
  if (text.length > limits.maxPromptLength) {
    return reject(400, `prompt is too long: ${text.length} characters, the limit is ${limits.maxPromptLength}`);
  }
  // Embeddings never stream; the native generate and chat routes stream unless told not to.
  const stream = route === Route.Generate || route === Route.Chat ? b.stream !== false : false;
  return facts(rawModel, stream, text, signatureOf(options), b, limits);
}

function validateOpenAI(route: Route, b: Body, limits: ValidationLimits): RequestFacts | RequestRejection {
  const typeError = checkTypes(b, OPENAI_TYPES);
  if (typeError) return typeError;
  const rawModel = (b.model as string | undefined) ?? '';
  if (rawModel.trim() === '') return reject(400, 'model is required');
  if (route === Route.OpenAIChat && (!Array.isArray(b.messages) || b.messages.length === 0)) {
    return reject(400, "[] is too short - 'messages'");
  }
  if (route === Route.OpenAIEmbeddings && (b.input === undefined || !isStringOrStrings(b.input))) {
    return reject(400, 'invalid input');
  }
  const text = promptText(route, b);
  if (text.length > limits.maxPromptLength) {
    return reject(400, `prompt is too long: ${text.length} characters, the limit is ${limits.maxPromptLength}`);
  }
  // OpenAI's API streams only when asked.
  return facts(rawModel, b.stream === true, text, '', b, limits);
}

function facts(rawModel: string, stream: boolean, text: string, optionsSignature: string, b: Body, limits: ValidationLimits): RequestFacts | RequestRejection {
  const model = normalizeModel(rawModel);
  if (limits.allowedModels.length > 0 && !limits.allowedModels.includes(model)) {
    return reject(403, `model '${rawModel}' is not allowed on this gateway`);
  }
  const tags = Array.isArray(b.instance_tags) ? b.instance_tags.filter((t): t is string => typeof t === 'string') : [];
  if (b.require_gpu === true && !tags.includes('gpu')) tags.push('gpu');
  const out: RequestFacts = {
    rawModel,
    model,
    optionsSignature,
    stream,
    promptTokens: estimateTokens(text),
    tags,
  };
  const cap = outputCapOf(b);
  if (cap !== undefined) out.outputTokens = cap;
  if (Array.isArray(b.tools) && b.tools.length > 0) out.tools = true;
  const priority = priorityOf(b.priority);
  if (priority !== undefined) out.priority = priority;
  if (typeof b.load_balancing_strategy === 'string') out.strategy = b.load_balancing_strategy;
  if (typeof b.fallback_model === 'string' && b.fallback_model) out.fallbackModel = b.fallback_model;
  if (typeof b.max_latency === 'number' && b.max_latency > 0) out.latencyBudgetMs = b.max_latency;
  const complexity = complexityOf(b.complexity);
  if (complexity !== undefined) out.complexity = complexity;
  return out;
}

/** The longest `complexity` hint kept; a longer one is no word a rule would name. */
const MAX_COMPLEXITY_LENGTH = 64;

/**
 * A `complexity` hint (a body field or a header) as rules compare it: trimmed, lower case; undefined
 * when it is not a non-empty string of at most 64 characters.
 *
 * @example complexityOf(' High '); // 'high'
 */
export function complexityOf(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t !== '' && t.length <= MAX_COMPLEXITY_LENGTH ? t.toLowerCase() : undefined;
}

/** The first positive integer cap among Ollama's and OpenAI's output-length fields. */
function outputCapOf(b: Body): number | undefined {
  const options = b.options as Body | undefined;
  for (const v of [options?.num_predict, b.max_tokens, b.max_completion_tokens]) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 1) return Math.floor(v);
  }
  return undefined;
}

/** `high`/`normal`/`low` or a number; higher is served first. */
export function priorityOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string') {
    const named: Record<string, number> = { high: 10, normal: 0, low: -10 };
    // Own keys only: `in` would also find `constructor` and `__proto__` on the prototype.
    if (Object.prototype.hasOwnProperty.call(named, v.toLowerCase())) return named[v.toLowerCase()];
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n)) return Math.trunc(n);
  }
  return undefined;
}

/** A stable string of the reload-forcing options, e.g. `num_ctx=8192`; '' when none is set. */
export function signatureOf(options: Body): string {
  return RELOAD_OPTIONS.filter((k) => options[k] !== undefined)
    .map((k) => `${k}=${String(options[k])}`)
    .join(',');
}

function promptText(route: Route, b: Body): string {
  let text = typeof b.system === 'string' ? b.system : '';
  if (typeof b.prompt === 'string') text += b.prompt;
  else if (Array.isArray(b.prompt)) text += b.prompt.filter((p) => typeof p === 'string').join('');
  if (Array.isArray(b.messages)) {
    for (const m of b.messages) {
      const c = (m as Body | null)?.content;
      if (typeof c === 'string') text += c;
      else if (Array.isArray(c)) for (const part of c) if (typeof (part as Body)?.text === 'string') text += (part as Body).text;
    }
  }
  if (isEmbeddingRoute(route)) {
    if (typeof b.input === 'string') text += b.input;
    else if (Array.isArray(b.input)) text += b.input.filter((p) => typeof p === 'string').join('');
  }
  return text;
}

/** A field and the JSON types it may have (the first is the Go field's own, named in errors). */
type FieldTypes = readonly (readonly [field: string, types: readonly string[]])[];

/** The typed fields checked, as tables built once rather than an object and its splits per request. */
const NATIVE_TYPES: FieldTypes = [
  ['model', ['string']],
  ['prompt', ['string']],
  ['system', ['string']],
  ['stream', ['boolean']],
  ['raw', ['boolean']],
  ['options', ['object']],
  ['messages', ['array']],
];
const OPENAI_TYPES: FieldTypes = [
  ['model', ['string']],
  ['stream', ['boolean']],
  ['messages', ['array']],
  ['prompt', ['string', 'array']],
];

function checkTypes(b: Body, fields: FieldTypes): RequestRejection | undefined {
  for (const [k, types] of fields) {
    const v = b[k];
    if (v === undefined || v === null) continue;
    const actual = Array.isArray(v) ? 'array' : typeof v;
    if (!types.includes(actual)) {
      // Go's decode error text, which Ollama returns as is.
      return reject(400, `json: cannot unmarshal ${goType(actual)} into Go struct field .${k} of type ${goType(types[0])}`);
    }
  }
  return undefined;
}

function goType(t: string): string {
  return ({ string: 'string', boolean: 'bool', number: 'number', object: 'object', array: 'array' } as Record<string, string>)[t] ?? t;
}

function nonEmptyString(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

function isStringOrStrings(v: unknown): boolean {
  return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}

function reject(status: number, message: string): RequestRejection {
  return { status, message };
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * A prompt's size in tokens, roughly: about four characters a token for ASCII text (English, code),
 * one a token for every other character (CJK text runs close to one; other scripts between). The
 * learned first-byte deadline scales with it, so an estimate four times short on a Chinese prompt
 * would have timed out a healthy node's prefill.
 *
 * @example estimateTokens('hello world!'); // 3
 * @example estimateTokens('你好世界'); // 4
 */
export function estimateTokens(text: string): number {
  if (!NON_ASCII.test(text)) return Math.ceil(text.length / 4);
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) ascii++;
    // A surrogate pair is one character: count its high half only.
    else if (c < 0xdc00 || c > 0xdfff) other++;
  }
  return Math.ceil(ascii / 4) + other;
}
