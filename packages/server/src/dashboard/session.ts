import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { BalancerConfig } from '@ollama-ring/balancer';
import { clientIdentity } from '../http/auth';

/** The cookie that carries a dashboard session. */
export const SESSION_COOKIE = 'ollama_ring_dashboard';

/**
 * Who may read the dashboard's data. A browser's `EventSource` cannot send an `Authorization`
 * header, so the page trades the API key for a cookie once (`POST /dashboard/session` with the key
 * as for any route), and the event stream is then read with the cookie. The cookie holds no key:
 * it is an HMAC of the key under a secret made when the gateway starts, so it is worth nothing
 * elsewhere, stops working when the gateway restarts (the page trades its key again) or when a
 * reload drops the key, and needs no store of sessions. It is `HttpOnly` (no script reads it),
 * `SameSite=Strict` and limited to `/dashboard`; it grants reading, never an admin action (those
 * need the admin token in their own header).
 *
 * @example
 * const sessions = new DashboardSessions();
 * res.setHeader('set-cookie', sessions.cookieFor(key, req));
 * if (!sessions.allows(req, config)) res.writeHead(401);
 */
export class DashboardSessions {
  private readonly secret = randomBytes(32);

  /** The `Set-Cookie` value for a session of `key`. */
  cookieFor(key: string, req: IncomingMessage): string {
    const secure = (req.socket as Partial<TLSSocket>).encrypted === true ? '; Secure' : '';
    return `${SESSION_COOKIE}=${this.tokenOf(key)}; Path=/dashboard; HttpOnly; SameSite=Strict${secure}`;
  }

  /**
   * Whether `req` may read the dashboard: always when no API keys are configured; otherwise with a
   * valid key in its headers (as `/api/stats` takes it) or a session cookie of one.
   */
  allows(req: IncomingMessage, cfg: BalancerConfig): boolean {
    if (clientIdentity(req, cfg) !== null) return true;
    const token = cookieOf(req, SESSION_COOKIE);
    if (!token) return false;
    const got = Buffer.from(token);
    return cfg.auth.apiKeys.some((k) => {
      const want = Buffer.from(this.tokenOf(k.key));
      return want.length === got.length && timingSafeEqual(want, got);
    });
  }

  private tokenOf(key: string): string {
    return createHmac('sha256', this.secret).update(key).digest('base64url');
  }
}

/** The value of cookie `name` in `req`'s `Cookie` header, if any. */
function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
