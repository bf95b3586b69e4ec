import type { ServerResponse } from 'node:http';
import { BalancerError } from '@ollama-ring/balancer';

/** Which API's error shape a caller expects. */
export type Flavor = 'ollama' | 'openai';

/**
 * Sends an error in the calling API's own shape: Ollama's `{"error":"…"}` (JSON, no trailing
 * newline) or OpenAI's `{"error":{"message","type","param","code"}}`, with `Retry-After` when given.
 */
export function sendError(res: ServerResponse, status: number, message: string, flavor: Flavor, retryAfterSec?: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body =
    flavor === 'openai'
      ? `${JSON.stringify({ error: { message, type: openAIType(status), param: null, code: null } })}\n`
      : JSON.stringify({ error: message });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  };
  if (retryAfterSec !== undefined) headers['retry-after'] = Math.max(1, Math.ceil(retryAfterSec));
  res.writeHead(status, headers);
  res.end(body);
}

/** Sends any thrown value: typed balancer errors keep their status and retry-after; others are 500. */
export function sendThrown(res: ServerResponse, err: unknown, flavor: Flavor): void {
  if (err instanceof BalancerError) {
    // An upstream error body passes through unchanged, when the upstream spoke the same API.
    const body = (err as BalancerError & { body?: string }).body;
    if (body && !res.headersSent && looksLike(body, flavor)) {
      res.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    sendError(res, err.status, err.message, flavor, err.retryAfterSec);
    return;
  }
  sendError(res, 500, err instanceof Error ? err.message : String(err), flavor);
}

function openAIType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

function looksLike(body: string, flavor: Flavor): boolean {
  try {
    const v = JSON.parse(body) as { error?: unknown };
    return flavor === 'openai' ? typeof v.error === 'object' && v.error !== null : typeof v.error === 'string';
  } catch {
    return false;
  }
}
