import type { ServerResponse } from 'node:http';
import type { BalancerConfig } from '@ollama-ring/balancer';
import { flavorOfPath } from '@ollama-ring/protocol';
import { sendError } from './errors';

/**
 * The gateway's timeouts for its own clients (config `server.*`), resolved.
 *
 * @example const t = clientTimeouts(config.server, { requestTimeoutMs: 30_000 });
 */
export interface ClientTimeouts {
  /** To send a request's headers, from its first byte (Node's `headersTimeout`). */
  readonly headersTimeoutMs: number;
  /** To send a whole request other than a blob upload; its body is timed from its headers. */
  readonly requestTimeoutMs: number;
  /** To send a blob upload (`POST /api/blobs/:digest`); also the deadline of passing it on to the nodes. */
  readonly blobUploadTimeoutMs: number;
  /** How long an idle keep-alive connection is kept (Node's `keepAliveTimeout`). */
  readonly keepAliveTimeoutMs: number;
  /** How often the deadlines are checked: often enough that each holds within a quarter of it, at most every second. */
  readonly checkEveryMs: number;
  /**
   * How late a deadline may be seen (two checks). Node's own `requestTimeout` backstop, and the
   * upload's deadline on the nodes, are this much longer, so that a client too slow meets the
   * gateway's 408 first, not Node's bare one or the node's 504.
   */
  readonly slackMs: number;
}

/**
 * The config's `server.*` timeouts with `overrides` on top (`GatewayOptions`), made consistent for
 * Node, which refuses a headers timeout longer than the request's; the config itself checks both
 * orders, overrides may not.
 *
 * @example clientTimeouts(defaultConfig().server).requestTimeoutMs; // 120000
 */
export function clientTimeouts(server: BalancerConfig['server'], overrides: Partial<Omit<ClientTimeouts, 'checkEveryMs' | 'slackMs'>> = {}): ClientTimeouts {
  const requestTimeoutMs = overrides.requestTimeoutMs ?? server.requestTimeoutMs;
  const headersTimeoutMs = Math.min(overrides.headersTimeoutMs ?? server.headersTimeoutMs, requestTimeoutMs);
  // Node checks its own timeouts only every `connectionsCheckingInterval` (30 s by default):
  // a 10 s header limit would otherwise hold only within 40 s.
  const checkEveryMs = Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4)));
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    blobUploadTimeoutMs: Math.max(overrides.blobUploadTimeoutMs ?? server.blobUploadTimeoutMs, requestTimeoutMs),
    keepAliveTimeoutMs: overrides.keepAliveTimeoutMs ?? server.keepAliveTimeoutMs,
    checkEveryMs,
    slackMs: 2 * checkEveryMs,
  };
}

/**
 * Whether a request is a blob upload, whose deadline is `blobUploadTimeoutMs`. Only blob bodies and
 * batch input files (`POST /v1/files`, up to `batch.maxFileBytes`) are large: `/api/create`,
 * `/api/push` and `/api/pull` send small JSON, and their long part, the progress stream, is a
 * response, which no request timeout limits.
 */
function isBlobUpload(method: string | undefined, pathname: string): boolean {
  return method === 'POST' && (pathname.startsWith('/api/blobs/') || pathname === '/v1/files');
}

/**
 * Each request's deadline to arrive whole, by its route class. Node's http server has one
 * `requestTimeout` for every request; the gateway sets it a little above the longest class (blob
 * uploads), as a backstop, and enforces each request's own deadline here. A request still not
 * received in full (`req.complete`) at its deadline gets 408 in its API's shape (Ollama's
 * `{"error":…}`, OpenAI's for `/v1`) and its connection is closed; one whose answer has already
 * begun is only closed.
 *
 * Checked as Node checks its own, every `checkEveryMs` by one timer for the whole gateway, running
 * only while requests are being received: a request costs two array pushes, not a timer of its own.
 *
 * @example
 * const deadlines = new RequestDeadlines(clientTimeouts(config.server));
 * deadlines.watch(res, url.pathname); // for every request, as it comes in
 */
export class RequestDeadlines {
  /** Requests being received, and (at the same index) when each must have arrived, in epoch ms. */
  private responses: ServerResponse[] = [];
  private deadlines: number[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly t: ClientTimeouts) {}

  /** Holds `res`'s request to its deadline until it has arrived whole. */
  watch(res: ServerResponse, pathname: string): void {
    this.responses.push(res);
    this.deadlines.push(Date.now() + (isBlobUpload(res.req.method, pathname) ? this.t.blobUploadTimeoutMs : this.t.requestTimeoutMs));
    if (this.timer === undefined) {
      this.timer = setInterval(this.check, this.t.checkEveryMs);
      this.timer.unref();
    }
  }

  /** Stops checking (the gateway has closed every connection). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.responses = [];
    this.deadlines = [];
  }

  /** Forgets the requests that have arrived (almost all of them, by the next check), and times out the late ones. */
  private readonly check = (): void => {
    const now = Date.now();
    const { responses, deadlines } = this;
    let kept = 0;
    for (let i = 0; i < responses.length; i++) {
      const res = responses[i];
      // Not `res.destroyed`: a response sent early (a 401, a 404) is done while its request may
      // still be trickling in, and that must still be cut at its deadline.
      const req = res.req;
      if (req.complete || req.destroyed) continue;
      if (deadlines[i] <= now) {
        this.expire(res);
        continue;
      }
      responses[kept] = res;
      deadlines[kept++] = deadlines[i];
    }
    responses.length = kept;
    deadlines.length = kept;
    if (kept === 0) this.close();
  };

  private expire(res: ServerResponse): void {
    const req = res.req;
    if (res.headersSent) {
      // An answer has begun (an early refusal, say): nothing more can be said, only the connection closed.
      req.destroy();
      return;
    }
    const pathname = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
    const [ms, key] = isBlobUpload(req.method, pathname) ? [this.t.blobUploadTimeoutMs, 'blobUploadTimeoutMs'] : [this.t.requestTimeoutMs, 'requestTimeoutMs'];
    // As Node answers its own request timeout: 408, then the connection is closed (the rest of the
    // body is not waited for). A handler still reading the body then sees the client gone.
    res.shouldKeepAlive = false;
    res.once('finish', () => req.destroy());
    sendError(res, 408, `request timeout: the request did not arrive in full within ${ms} ms (server.${key})`, flavorOfPath(pathname));
  }
}
