/**
 * The three embedding APIs as one upstream call: which requests may share an `/api/embed` call with
 * an `input` array (`embedCallOf`), and each caller's share of the combined answer in its own API's
 * shape (`embedAnswerOf`): Ollama's `/api/embed`, the legacy `/api/embeddings` and OpenAI's
 * `/v1/embeddings`.
 */
import { jsonDepthError } from './json';
import { Route } from './routes';

/** The API a caller spoke, and so the shape its answer takes. */
export type EmbedShape = 'ollama' | 'legacy' | 'openai';

/** One embedding request, read for coalescing. */
export interface EmbedCall {
  shape: EmbedShape;
  /** The model as the caller named it (echoed back). */
  model: string;
  /**
   * The upstream `/api/embed` body without its `input`: every field that changes the answer
   * (`model`, `truncate`, `dimensions`, `options`, `keep_alive`). Calls share an upstream call only
   * when this is the same.
   */
  common: Record<string, unknown>;
  /** `common` as canonical JSON (keys sorted at every depth): the coalescing key. */
  key: string;
  /** The texts to embed, in order (one for a single input or a legacy prompt). */
  inputs: string[];
  /** UTF-8 bytes of the inputs (the size caps and the token share). */
  bytes: number;
  /** OpenAI's `encoding_format`: floats, or little-endian float32s in base64. */
  encoding: 'float' | 'base64';
}

const OLLAMA_FIELDS = new Set(['model', 'input', 'truncate', 'dimensions', 'keep_alive', 'options']);
const LEGACY_FIELDS = new Set(['model', 'prompt', 'keep_alive', 'options']);
const OPENAI_FIELDS = new Set(['model', 'input', 'dimensions', 'encoding_format', 'user']);
/** The fields of the upstream `/api/embed` body each API passes on, beside `model` and `input`. */
const PASSED: Readonly<Record<EmbedShape, readonly string[]>> = {
  ollama: ['truncate', 'dimensions', 'keep_alive', 'options'],
  legacy: ['keep_alive', 'options'],
  openai: ['dimensions'],
};

const decoder = new TextDecoder();
/** The deepest body that is coalesced (an embed call with options is 3 levels deep). */
const MAX_COALESCED_DEPTH = 16;

/**
 * The request as a coalescable embedding call, or undefined when it must go to a node as it is:
 * not an embedding route, not a JSON object, a field the three APIs' plain form does not have
 * (hint fields in the body, OpenAI token arrays), nesting deeper than 16 levels, or an input that is not text (an empty input,
 * which only loads the model, included). Whatever this passes on, the node still judges: a bad
 * `dimensions` fails the combined call, and each of its callers gets that error.
 *
 * @example embedCallOf(Route.Embed, bytes('{"model":"m","input":"hi"}')); // { shape: 'ollama', inputs: ['hi'], key: '{"model":"m"}', … }
 */
export function embedCallOf(route: Route, body: Uint8Array): EmbedCall | undefined {
  const shape: EmbedShape | undefined = route === Route.Embed ? 'ollama' : route === Route.Embeddings ? 'legacy' : route === Route.OpenAIEmbeddings ? 'openai' : undefined;
  if (shape === undefined) return undefined;
  // A deeply nested body (options of any depth Ollama takes) goes as it is: the key is built by
  // recursion, and such a body is no plain embedding call.
  if (jsonDepthError(body, MAX_COALESCED_DEPTH) !== undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const b = parsed as Record<string, unknown>;
  const allowed = shape === 'ollama' ? OLLAMA_FIELDS : shape === 'legacy' ? LEGACY_FIELDS : OPENAI_FIELDS;
  for (const k of Object.keys(b)) if (!allowed.has(k)) return undefined;
  if (typeof b.model !== 'string' || b.model === '') return undefined;
  const inputs = textsOf(shape === 'legacy' ? b.prompt : b.input);
  if (inputs === undefined) return undefined;
  let encoding: 'float' | 'base64' = 'float';
  if (shape === 'openai' && b.encoding_format !== undefined) {
    if (b.encoding_format !== 'float' && b.encoding_format !== 'base64') return undefined;
    encoding = b.encoding_format;
  }
  const common: Record<string, unknown> = { model: b.model };
  for (const k of PASSED[shape]) if (b[k] !== undefined) common[k] = b[k];
  let bytes = 0;
  for (const s of inputs) bytes += Buffer.byteLength(s);
  return { shape, model: b.model, common, key: canonicalJson(common), inputs, bytes, encoding };
}

/** A non-empty string as one input, or a non-empty array of non-empty strings; anything else undefined. */
function textsOf(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v === '' ? undefined : [v];
  if (!Array.isArray(v) || v.length === 0) return undefined;
  for (const s of v) if (typeof s !== 'string' || s === '') return undefined;
  return v as string[];
}

/** JSON with object keys sorted at every depth: equal values, equal strings. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** One caller's share of a combined `/api/embed` answer. */
export interface EmbedShare {
  vectors: number[][];
  /** This caller's share of the combined `prompt_eval_count` (see `apportion`). */
  promptTokens: number;
  /** The combined call's durations (ns): each caller waited for the whole call. */
  totalDuration?: number;
  loadDuration?: number;
}

/**
 * A caller's answer in its API's shape: Ollama's `{model, embeddings, total_duration,
 * load_duration, prompt_eval_count}`, the legacy `{embedding}`, or OpenAI's `{object: "list",
 * data, model, usage}`.
 */
export function embedAnswerOf(call: EmbedCall, share: EmbedShare): Record<string, unknown> {
  switch (call.shape) {
    case 'legacy':
      return { embedding: share.vectors[0] ?? [] };
    case 'openai':
      return {
        object: 'list',
        data: share.vectors.map((v, index) => ({ object: 'embedding', embedding: call.encoding === 'base64' ? base64Floats(v) : v, index })),
        model: call.model,
        usage: { prompt_tokens: share.promptTokens, total_tokens: share.promptTokens },
      };
    default: {
      const out: Record<string, unknown> = { model: call.model, embeddings: share.vectors };
      if (share.totalDuration !== undefined) out.total_duration = share.totalDuration;
      if (share.loadDuration !== undefined) out.load_duration = share.loadDuration;
      out.prompt_eval_count = share.promptTokens;
      return out;
    }
  }
}

/** Little-endian float32s, base64-encoded (OpenAI's `encoding_format: base64`). */
export function base64Floats(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/**
 * `total` split in proportion to `weights`, in whole numbers that add up to `total` (largest
 * remainders first; ties to the earlier share). All-zero weights split evenly.
 *
 * @example apportion(10, [1, 1, 2]); // [3, 2, 5]
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  const n = weights.length;
  if (n === 0) return [];
  let sum = 0;
  for (const w of weights) sum += w;
  const w = sum > 0 ? weights : weights.map(() => 1);
  const s = sum > 0 ? sum : n;
  const exact = w.map((x) => (total * x) / s);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ r: x - Math.floor(x), i })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0 && k < order.length; k++, left--) out[order[k].i]++;
  return out;
}
