import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { BalancerConfig } from '@ollama-ring/balancer';

/** The API key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  const x = req.headers['x-api-key'];
  return (Array.isArray(x) ? x[0] : x)?.trim() || undefined;
}

/**
 * The client identity for a request, or null when it must be refused (401). With API keys
 * configured, the key is the identity (per-key limits match on it); without, every request is
 * allowed and its client is its remote address.
 */
export function clientIdentity(req: IncomingMessage, cfg: BalancerConfig): string | null {
  const keys = cfg.auth.apiKeys;
  if (keys.length === 0) return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
  const key = presentedKey(req);
  if (!key) return null;
  return keys.some((k) => safeEqual(k.key, key)) ? key : null;
}

/**
 * Whether a request may use the admin API: the configured admin token as a bearer token, or, with
 * no token configured, a loopback client.
 */
export function isAdmin(req: IncomingMessage, cfg: BalancerConfig): boolean {
  const token = cfg.auth.adminToken;
  if (token) {
    const key = presentedKey(req);
    return key !== undefined && safeEqual(token, key);
  }
  return isLoopback(req.socket.remoteAddress);
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
