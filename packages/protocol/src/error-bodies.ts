/**
 * Error bodies, both ways: building them as Ollama does, and reading the message out of one a node
 * sent. Ollama's native shape is `{"error":"…"}` (gin `c.JSON`: no trailing newline); its OpenAI
 * layer's is `{"error":{"message","type","param":null,"code":null}}` followed by a newline
 * (`json.NewEncoder`), with the native status.
 */
import type { ErrorFlavor } from './routes';

/** The `Content-Type` of an error body: gin's for native errors, the OpenAI middleware's for `/v1`. */
export const ERROR_CONTENT_TYPE: Readonly<Record<ErrorFlavor, string>> = {
  ollama: 'application/json; charset=utf-8',
  openai: 'application/json',
};

/** OpenAI's error `type` for a status: Ollama's `openai.NewError` knows only these three. */
export function openAIErrorType(status: number): 'invalid_request_error' | 'not_found_error' | 'api_error' {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

/** Ollama's native error body: `{"error":"…"}`, no trailing newline. */
export function ollamaErrorBody(message: string): string {
  return JSON.stringify({ error: message });
}

/** The OpenAI layer's error body, newline-terminated. */
export function openAIErrorBody(status: number, message: string): string {
  return `${JSON.stringify({ error: { message, type: openAIErrorType(status), param: null, code: null } })}\n`;
}

/**
 * The error body a path of the given flavor answers with.
 *
 * @example res.writeHead(404, { 'content-type': ERROR_CONTENT_TYPE[f] }).end(errorBody(f, 404, "model 'x' not found"));
 */
export function errorBody(flavor: ErrorFlavor, status: number, message: string): string {
  return flavor === 'openai' ? openAIErrorBody(status, message) : ollamaErrorBody(message);
}

/**
 * The last line of a stream that failed after it began: Ollama writes `{"error":"…"}` as a final
 * NDJSON line (status stays 200). For an OpenAI SSE stream, whose Ollama original ends without a
 * word, this is the error as one last `data:` event, so that a client can tell a failure from an end.
 */
export function streamErrorLine(flavor: ErrorFlavor, message: string): string {
  return flavor === 'openai' ? `data: ${JSON.stringify({ error: { message, type: 'api_error', param: null, code: null } })}\n\n` : `${ollamaErrorBody(message)}\n`;
}

/** The message of an Ollama (`{"error":"…"}`) or OpenAI (`{"error":{"message":"…"}}`) error body, else undefined. */
export function errorMessageOf(body: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  return errorMessageIn(v);
}

/**
 * The message of an already parsed error object in either shape (an Ollama error line, an OpenAI
 * error event's payload), else undefined.
 *
 * @example errorMessageIn({ error: { message: 'boom', type: 'api_error' } }); // 'boom'
 */
export function errorMessageIn(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const error = (v as { error?: unknown }).error;
  if (typeof error === 'string') return error;
  const nested = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof nested === 'string' ? nested : undefined;
}

/**
 * Ollama's model-not-found messages (ollama-api.md §4): `model 'x' not found` (generate, chat, show,
 * delete: the name as given or normalised), `model "x" not found` (copy) and `model "x" not found,
 * try pulling it first` (embed, embeddings: Go's `%q`). Its OpenAI layer carries the same message.
 */
const MODEL_NOT_FOUND = /^model (?:'.*'|".*") not found(?:, try pulling it first)?$/s;

/**
 * True when a node's answer is Ollama's own "this model is not here": a 404 whose JSON `error`
 * (native) or `error.message` (OpenAI) is one of Ollama's model-not-found messages. The one rule
 * for telling it from any other 404, above all a route the node lacks (gin's text
 * `404 page not found`), which says nothing about the model.
 *
 * @example isModelNotFound(404, '{"error":"model \'x\' not found"}'); // true
 * isModelNotFound(404, '404 page not found'); // false
 */
export function isModelNotFound(status: number, body: string): boolean {
  if (status !== 404) return false;
  const message = errorMessageOf(body);
  return message !== undefined && MODEL_NOT_FOUND.test(message);
}

/** True when `body` is an error body in `flavor`'s shape, so that it can be passed on unchanged. */
export function isErrorBody(body: string, flavor: ErrorFlavor): boolean {
  try {
    const v = JSON.parse(body) as { error?: unknown } | null;
    if (typeof v !== 'object' || v === null) return false;
    return flavor === 'openai' ? typeof v.error === 'object' && v.error !== null : typeof v.error === 'string';
  } catch {
    return false;
  }
}

/**
 * What an error answer says, for a message of ours: the body's error message, else its text,
 * trimmed and cut to `max` characters; '' for an empty body.
 *
 * @example `node a: /api/tags answered 500: ${errorText(text) || '(empty body)'}`
 */
export function errorText(body: string, max = 300): string {
  const message = errorMessageOf(body);
  if (message !== undefined) return message;
  const t = body.trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}
