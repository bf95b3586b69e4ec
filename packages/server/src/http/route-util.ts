import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayContext } from '../gateway-context';
import { clientIdentity, isAdmin, presentedKey } from './auth';
import { BodyError, readBody } from './body';
import { type ErrorFlavor, jsonDepthError } from '@ollama-ring/protocol';
import { sendError } from './errors';

/**
 * Sends `body` as JSON. Ollama's own JSON answers carry no trailing newline (gin's `c.JSON`), so
 * neither do these.
 *
 * @example sendJson(res, 200, { models: [] });
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** A parsed JSON object body. */
export type JsonObject = Record<string, unknown>;

/**
 * Reads a JSON object body under `validation.maxBodyBytes`. On bad input it answers (400 empty,
 * malformed, nested deeper than Ollama accepts (`MAX_JSON_DEPTH`) or not an object, 413 oversized)
 * in the caller's error shape and returns undefined. A body that passes may still be thousands of
 * levels deep: re-serialise it with `toJson`, not `JSON.stringify`.
 *
 * @example const body = await readJsonObject(gw, req, res, 'ollama'); if (!body) return;
 */
export async function readJsonObject(gw: GatewayContext, req: IncomingMessage, res: ServerResponse, flavor: ErrorFlavor): Promise<JsonObject | undefined> {
  let raw: Buffer;
  try {
    raw = await readBody(req, gw.config().validation.maxBodyBytes);
  } catch (e) {
    if (!(e instanceof BodyError)) throw e;
    sendError(res, e.status, e.message, flavor);
    // The rest of an oversized body is not worth reading; close instead of draining it.
    res.once('finish', () => req.destroy());
    return undefined;
  }
  if (raw.length === 0) {
    sendError(res, 400, 'missing request body', flavor);
    return undefined;
  }
  const tooDeep = jsonDepthError(raw);
  if (tooDeep) {
    sendError(res, 400, tooDeep, flavor);
    return undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    sendError(res, 400, `invalid JSON: ${(e as Error).message}`, flavor);
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    sendError(res, 400, 'request body must be a JSON object', flavor);
    return undefined;
  }
  return v as JsonObject;
}

/**
 * The model a native management body names (`model`, or the older `name` the `ollama` client still
 * sends), or an error message for a wrong type.
 *
 * @example modelOf({ name: 'llama3.2' }); // { model: 'llama3.2' }
 */
export function modelOf(body: JsonObject): { model: string } | { error: string } {
  const v = body.model ?? body.name;
  if (v === undefined) return { model: '' };
  if (typeof v !== 'string') return { error: `field 'model' must be a string (got ${typeof v})` };
  return { model: v.trim() };
}

/**
 * Reads a native management body that must name a model (`model`, or the `name` the `ollama` client
 * sends): on bad input it answers in Ollama's shape (400 for a wrong type or no model, and what
 * {@link readJsonObject} answers) and returns undefined.
 *
 * @example const r = await readModelBody(gw, req, res); if (!r) return;
 */
export async function readModelBody(gw: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<{ body: JsonObject; model: string } | undefined> {
  const body = await readJsonObject(gw, req, res, 'ollama');
  if (!body) return undefined;
  const m = modelOf(body);
  const error = 'error' in m ? m.error : m.model === '' ? 'model is required' : undefined;
  if (error !== undefined) {
    sendError(res, 400, error, 'ollama');
    return undefined;
  }
  return { body, model: (m as { model: string }).model };
}

/**
 * Client API keys, as for inference: with `auth.apiKeys` configured, a request without a valid
 * key gets 401 in the caller's shape and false is returned.
 *
 * @example if (!requireClient(gw, req, res, 'openai')) return;
 */
export function requireClient(gw: GatewayContext, req: IncomingMessage, res: ServerResponse, flavor: ErrorFlavor): boolean {
  if (clientIdentity(req, gw.config()) !== null) return true;
  sendError(res, 401, 'unauthorized: a valid API key is required (Authorization: Bearer or X-API-Key)', flavor);
  return false;
}

/**
 * The admin check, with the reason: with `auth.adminToken` set, no token is 401 and a wrong one
 * 403; with none set, only loopback clients are admitted (403 otherwise). Errors are in Ollama's
 * shape, since the admin API is ours and follows the native one.
 *
 * @example if (!requireAdmin(gw, req, res)) return;
 */
export function requireAdmin(gw: GatewayContext, req: IncomingMessage, res: ServerResponse): boolean {
  const cfg = gw.config();
  if (isAdmin(req, cfg)) return true;
  let status: 401 | 403 = 403;
  let message = 'forbidden: wrong admin token';
  if (!cfg.auth.adminToken) {
    message = 'forbidden: with no auth.adminToken configured, the admin API answers loopback clients only';
  } else if (presentedKey(req) === undefined) {
    status = 401;
    message = 'unauthorized: the admin API requires Authorization: Bearer <auth.adminToken>';
  }
  sendError(res, status, message, 'ollama');
  return false;
}

/** Whether a node can take requests now (the balancer's rule, re-exported for the routes). */
export { canServe } from '@ollama-ring/balancer';
