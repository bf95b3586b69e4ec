import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { OllamaRingError } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';

/** Why a management request was cut: the gateway's grace period ran out while it was still going. */
export class ShutdownAbort extends OllamaRingError {
  static override brand = 'ERR_SHUTDOWN_ABORT';
  constructor() {
    super(ShutdownAbort.brand, 'the gateway shut down before this finished');
  }
}

/**
 * Whether the gateway this request came to has stopped listening (`Gateway.close()` has begun).
 *
 * @example if (shuttingDown(req)) return sendError(res, 503, 'the gateway is shutting down', 'ollama', 5);
 */
export function shuttingDown(req: IncomingMessage): boolean {
  // Node sets `socket.server` on every server-side socket; @types/node does not declare it.
  const server = (req.socket as { server?: Server }).server;
  return server !== undefined && !server.listening;
}

/**
 * The gateway's requests that do not go through the pipeline (model management and listings,
 * admin, status) while they run, so that `Gateway.close()` drains them as the pipeline drains
 * inference: a pull, push or create progress stream may finish within the grace period, and only
 * then is it cut. Each tracked request gets a signal that aborts when the grace period is over;
 * handlers that stream tie their upstream calls to it and end with an in-band error line.
 *
 * @example
 * const signal = operationsFor(gw).track(res);
 * await operationsFor(gw).drain(30_000); // in close()
 */
class Operations {
  private readonly live = new Map<ServerResponse, AbortController>();
  private readonly idle = new Set<() => void>();

  /** Tracks `res` until it closes; the signal aborts (with a {@link ShutdownAbort}) when a drain gives up on it. */
  track(res: ServerResponse): AbortSignal {
    const ac = new AbortController();
    this.live.set(res, ac);
    res.once('close', () => {
      this.live.delete(res);
      if (this.live.size === 0) for (const wake of [...this.idle]) wake();
    });
    return ac.signal;
  }

  /** The shutdown signal of a tracked response. */
  signalOf(res: ServerResponse): AbortSignal | undefined {
    return this.live.get(res)?.signal;
  }

  /** How many tracked requests are still going. */
  get size(): number {
    return this.live.size;
  }

  /**
   * Waits up to `graceMs` for every tracked request to end; then aborts those left and gives them
   * up to `settleMs` to write their last line and end. Resolves with how many had to be aborted.
   */
  async drain(graceMs: number, settleMs = 2_000): Promise<number> {
    if (!(await this.whenIdle(graceMs))) {
      const left = [...this.live.values()];
      for (const ac of left) ac.abort(new ShutdownAbort());
      await this.whenIdle(settleMs);
      return left.length;
    }
    return 0;
  }

  private whenIdle(ms: number): Promise<boolean> {
    if (this.live.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.idle.delete(wake);
        resolve(idle);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(this.live.size === 0), ms);
      this.idle.add(wake);
    });
  }
}

const registries = new WeakMap<GatewayContext, Operations>();

/**
 * The gateway's {@link Operations}, created on first use.
 *
 * @example operationsFor(gw).track(res);
 */
export function operationsFor(gw: GatewayContext): Operations {
  let o = registries.get(gw);
  if (!o) registries.set(gw, (o = new Operations()));
  return o;
}

/**
 * An abort signal for a management call's upstream requests: it fires when the client goes away
 * (the response closes unfinished) or when the gateway's grace period is over (the reason is then
 * a {@link ShutdownAbort}).
 *
 * @example const signal = callSignal(gw, res); await up.stream(node, { ..., signal });
 */
export function callSignal(gw: GatewayContext, res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort(new Error('the client went away'));
  });
  const shutdown = operationsFor(gw).signalOf(res);
  if (shutdown) {
    if (shutdown.aborted) ac.abort(shutdown.reason);
    else shutdown.addEventListener('abort', () => ac.abort(shutdown.reason), { once: true });
  }
  return ac.signal;
}
