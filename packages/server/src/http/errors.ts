import type { ServerResponse } from 'node:http';
import { BalancerError } from '@ollama-ring/balancer';
import { ERROR_CONTENT_TYPE, type ErrorFlavor, errorBody, isErrorBody } from '@ollama-ring/protocol';

/**
 * Sends an error in the calling API's own shape, as Ollama does (see `errorBody`): its
 * `{"error":"…"}`, or its OpenAI layer's `{"error":{"message","type","param","code"}}`, with
 * `Retry-After` when given.
 */
export function sendError(res: ServerResponse, status: number, message: string, flavor: ErrorFlavor, retryAfterSec?: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendBody(res, status, errorBody(flavor, status, message), flavor, retryAfterSec);
}

/** Sends any thrown value: typed balancer errors keep their status and retry-after; others are 500. */
export function sendThrown(res: ServerResponse, err: unknown, flavor: ErrorFlavor): void {
  if (err instanceof BalancerError) {
    // An upstream error body passes through unchanged, when the upstream spoke the same API.
    const body = (err as BalancerError & { body?: string }).body;
    if (body && !res.headersSent && isErrorBody(body, flavor)) {
      sendBody(res, err.status, body, flavor);
      return;
    }
    sendError(res, err.status, err.message, flavor, err.retryAfterSec);
    return;
  }
  sendError(res, 500, err instanceof Error ? err.message : String(err), flavor);
}

function sendBody(res: ServerResponse, status: number, body: string, flavor: ErrorFlavor, retryAfterSec?: number): void {
  const headers: Record<string, string | number> = {
    'content-type': ERROR_CONTENT_TYPE[flavor],
    'content-length': Buffer.byteLength(body),
  };
  if (retryAfterSec !== undefined) headers['retry-after'] = Math.max(1, Math.ceil(retryAfterSec));
  res.writeHead(status, headers);
  res.end(body);
}
