/**
 * Request decoding with Go's error texts. Ollama binds bodies with `encoding/json`, so a wrong type
 * produces `json: cannot unmarshal string into Go struct field GenerateRequest.stream of type bool`.
 * Only the fields the sim reads are checked; unknown fields are ignored, as in Go.
 */
import { SimHttpError } from './errors';
import { parseKeepAlive } from './durations';

/** The Go type of a field, as it appears in error texts. */
export type GoType = 'string' | 'bool' | 'int' | 'float64' | '[]int' | '[]string' | 'object' | 'any' | 'keepAlive' | 'think';

export type FieldTable = Record<string, GoType>;

const OBJECT_GO_TYPE: Record<string, string> = {
  GenerateRequest: 'api.GenerateRequest',
  ChatRequest: 'api.ChatRequest',
  EmbedRequest: 'api.EmbedRequest',
  EmbeddingRequest: 'api.EmbeddingRequest',
};

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

function typeError(v: unknown, struct: string, field: string, goType: string): SimHttpError {
  return new SimHttpError(400, `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${field} of type ${goType}`);
}

/**
 * JSON.stringify, or undefined for a value nested too deep for it: a client's JSON may nest
 * thousands of levels (Go's decoder takes up to 10,000), and the recursion would overflow the stack.
 */
export function tryStringify(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

/** Go's text for malformed JSON, as close as V8's parse error lets us get. */
function syntaxError(text: string, err: Error): string {
  if (/end of (json )?input|Unterminated|Unexpected end/i.test(err.message)) return 'unexpected EOF';
  const pos = /position (\d+)/.exec(err.message);
  const ch = pos ? text.charAt(Number(pos[1])) : (/token '?(.)'?/.exec(err.message)?.[1] ?? '');
  return ch ? `invalid character '${ch}' looking for beginning of value` : 'unexpected EOF';
}

/** Parses a body into an object; 400 `missing request body` when empty, Go-style texts otherwise. */
export function parseJsonBody(body: Buffer, struct: string): Record<string, unknown> {
  if (body.length === 0) throw new SimHttpError(400, 'missing request body');
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SimHttpError(400, syntaxError(text, e as Error));
  }
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new SimHttpError(400, `json: cannot unmarshal ${jsonKind(value)} into Go value of type ${OBJECT_GO_TYPE[struct] ?? `api.${struct}`}`);
  }
  return value as Record<string, unknown>;
}

/** Checks the listed fields' types; throws the 400 Ollama would send for the first mismatch. */
export function checkFields(obj: Record<string, unknown>, struct: string, fields: FieldTable): void {
  for (const [field, type] of Object.entries(fields)) {
    const v = obj[field];
    if (v === undefined || v === null) continue;
    switch (type) {
      case 'string':
        if (typeof v !== 'string') throw typeError(v, struct, field, 'string');
        break;
      case 'bool':
        if (typeof v !== 'boolean') throw typeError(v, struct, field, 'bool');
        break;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(v, struct, field, 'int');
        break;
      case 'float64':
        if (typeof v !== 'number') throw typeError(v, struct, field, 'float64');
        break;
      case '[]int':
        if (!Array.isArray(v)) throw typeError(v, struct, field, '[]int');
        for (const x of v) if (typeof x !== 'number' || !Number.isInteger(x)) throw typeError(x, struct, field, 'int');
        break;
      case '[]string':
        if (!Array.isArray(v)) throw typeError(v, struct, field, '[]string');
        for (const x of v) if (typeof x !== 'string') throw typeError(x, struct, field, 'string');
        break;
      case 'object':
        if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, struct, field, 'map[string]interface {}');
        break;
      case 'keepAlive':
        try {
          parseKeepAlive(v);
        } catch (e) {
          throw new SimHttpError(400, (e as Error).message);
        }
        break;
      case 'think':
        if (typeof v === 'boolean') break;
        if (typeof v === 'string' && ['high', 'medium', 'low', 'max'].includes(v)) break;
        throw new SimHttpError(
          400,
          `invalid think value: ${tryStringify(v) ?? `an ${jsonKind(v)} nested too deep to show`} (must be "high", "medium", "low", "max", true, or false)`,
        );
      case 'any':
        break;
    }
  }
}

const INT_OPTIONS = new Set(['num_keep', 'seed', 'num_predict', 'top_k', 'repeat_last_n', 'num_ctx', 'num_batch', 'num_gpu', 'main_gpu', 'num_thread', 'draft_num_predict']);
const FLOAT_OPTIONS = new Set(['top_p', 'min_p', 'typical_p', 'temperature', 'repeat_penalty', 'presence_penalty', 'frequency_penalty']);
const BOOL_OPTIONS = new Set(['use_mmap']);

/** Checks `options` the way `api.Options.FromMap` does; unknown keys are ignored (Ollama logs them). */
export function checkOptions(options: unknown): Record<string, unknown> | undefined {
  if (options === undefined || options === null) return undefined;
  const o = options as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (v === null) continue;
    if (INT_OPTIONS.has(k) && typeof v !== 'number') throw new SimHttpError(400, `option "${k}" must be of type integer`);
    if (FLOAT_OPTIONS.has(k) && typeof v !== 'number') throw new SimHttpError(400, `option "${k}" must be of type float32`);
    if (BOOL_OPTIONS.has(k) && typeof v !== 'boolean') throw new SimHttpError(400, `option "${k}" must be of type boolean`);
    if (k === 'stop' && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) {
      throw new SimHttpError(400, `option "${k}" must be of type array`);
    }
  }
  return o;
}

/** The `keep_alive` in ms when present, undefined when absent (the runner keeps its own). */
export function keepAliveOf(obj: Record<string, unknown>): number | undefined {
  const v = obj.keep_alive;
  return v === undefined || v === null ? undefined : parseKeepAlive(v);
}

export const GENERATE_FIELDS: FieldTable = {
  model: 'string',
  prompt: 'string',
  suffix: 'string',
  system: 'string',
  template: 'string',
  context: '[]int',
  stream: 'bool',
  raw: 'bool',
  format: 'any',
  keep_alive: 'keepAlive',
  images: '[]string',
  options: 'object',
  think: 'think',
  truncate: 'bool',
  shift: 'bool',
  logprobs: 'bool',
  top_logprobs: 'int',
};

export const CHAT_FIELDS: FieldTable = {
  model: 'string',
  stream: 'bool',
  format: 'any',
  keep_alive: 'keepAlive',
  options: 'object',
  think: 'think',
  truncate: 'bool',
  shift: 'bool',
  logprobs: 'bool',
  top_logprobs: 'int',
};

export const EMBED_FIELDS: FieldTable = {
  model: 'string',
  truncate: 'bool',
  dimensions: 'int',
  keep_alive: 'keepAlive',
  options: 'object',
};

export const EMBEDDINGS_FIELDS: FieldTable = { model: 'string', prompt: 'string', keep_alive: 'keepAlive', options: 'object' };
