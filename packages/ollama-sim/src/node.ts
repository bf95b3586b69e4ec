/**
 * One simulated Ollama server: an HTTP listener, the route table, the scheduler, faults and counters.
 * Many nodes share one process and one ticker.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { INFERENCE_ROUTES, ROUTE_PATHS, flavorOfPath } from '@ollama-ring/protocol';
import type { ResolvedNode } from './config';
import type { SimFaults } from './config-types';
import { emptyStats, type NodeContext, type NodeStats } from './context';
import { rfc3339Local } from './durations';
import { SimHttpError } from './errors';
import { FaultState, type FaultPatch } from './faults';
import { isAllowedHost, isLoopbackAddress } from './host-check';
import { sendNativeError } from './http-util';
import { ModelTable } from './models';
import { handleControl, type ControlTarget, type SimNodeState, type SimResetOptions } from './routes/control';
import { sendOpenAIError } from './routes/openai-sinks';
import { matchRoute } from './routes/table';
import type { RouteRequest } from './routes/types';
import { NodeScheduler } from './scheduler';
import { sharedTicker, type TickScheduler } from './ticker';

/** Options a pool passes to its nodes. */
export interface SimNodeOptions {
  ticker?: TickScheduler;
  /** Receives one line per request when the config says `verbose`. Default: console.log. */
  log?: (line: string) => void;
  /** The other nodes of the pool, for `/_sim/nodes/{id}`. */
  peers?: () => readonly ControlTarget[];
}

/** A request as the node received it (`SimNode.recentRequests`). */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/** How many received requests a node remembers. */
const RECENT_REQUESTS = 256;

/** The paths whose requests a balancer counts against a node's slots (see `NodeStats.inferenceInFlight`). */
const INFERENCE_PATHS: ReadonlySet<string> = new Set(INFERENCE_ROUTES.map((r) => ROUTE_PATHS[r]));

export class SimNode implements ControlTarget {
  readonly id: string;
  private readonly server: Server;
  private readonly ctx: NodeContext;
  private readonly log: (line: string) => void;
  private readonly peers: () => readonly ControlTarget[];
  private listening = false;
  private closed = false;
  private boundPort: number;
  private acceptTimer: NodeJS.Timeout | undefined;
  private readonly initialFaults: SimFaults;
  /** The last {@link RECENT_REQUESTS} requests received, oldest first. */
  private readonly received: ReceivedRequest[] = [];

  constructor(
    readonly config: ResolvedNode,
    options: SimNodeOptions = {},
  ) {
    this.id = config.id;
    this.boundPort = config.port;
    const ticker = options.ticker ?? sharedTicker;
    this.initialFaults = structuredClone(config.faults);
    const faults = new FaultState({ ...config.faults, refuse: undefined });
    const scheduler = new NodeScheduler(config, faults, ticker);
    const models = new ModelTable(config.models);
    this.ctx = { config, scheduler, faults, ticker, models, stats: emptyStats(), cpuTime: { at: ticker.now(), user: 0, idle: 0 } };
    this.log = options.log ?? ((line) => console.log(line));
    this.peers = options.peers ?? (() => [this]);
    for (const key of config.preload) {
      const m = config.models.find((x) => x.key === key);
      if (m) scheduler.preload(m);
    }
    // requestTimeout 0: a generation (or a hang fault) may legitimately outlast Node's 5-minute default.
    const listener = { requestTimeout: 0, keepAliveTimeout: 5000 };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(req, res);
    const tls = config.tls;
    this.server = tls
      ? createHttpsServer(
          {
            ...listener,
            cert: readFileSync(tls.cert),
            key: readFileSync(tls.key),
            ...(tls.ca !== undefined && { ca: readFileSync(tls.ca), requestCert: true, rejectUnauthorized: true }),
          },
          onRequest,
        )
      : createServer(listener, onRequest);
  }

  /** `http://host:port` of this node, or `https://` with `tls` (valid after `start`). */
  get url(): string {
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `${this.config.tls ? 'https' : 'http'}://${host}:${this.port}`;
  }

  /**
   * The last requests this node received (up to 256, oldest first), with their headers as they
   * arrived: what a balancer in front of it sent (a trace context, credentials, …).
   */
  recentRequests(): readonly ReceivedRequest[] {
    return this.received;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Starts listening (or, with a start-up `refuse` fault, binds a port but refuses until due). */
  async start(): Promise<void> {
    await this.listen();
    const refuse = this.initialFaults.refuse;
    if (refuse) this.refuse(refuse.forMs);
  }

  private listen(): Promise<void> {
    if (this.listening || this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.boundPort, this.config.host, () => {
        this.server.off('error', onError);
        this.boundPort = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  /** Stops listening: new connections are refused. Back after `forMs`, or on `accept()`. */
  refuse(forMs?: number): void {
    if (this.acceptTimer) clearTimeout(this.acceptTimer);
    this.acceptTimer = undefined;
    if (this.listening) {
      this.listening = false;
      this.server.close();
      // Pooled keep-alive connections would otherwise still reach a node that is "down".
      this.server.closeIdleConnections();
    }
    if (forMs !== undefined) {
      this.acceptTimer = setTimeout(() => {
        this.acceptTimer = undefined;
        void this.accept().catch((e: unknown) => this.log(`[${this.id}] could not listen again: ${String(e)}`));
      }, forMs);
    }
  }

  /** Listens again on the same port after `refuse`. */
  async accept(): Promise<void> {
    if (this.acceptTimer) clearTimeout(this.acceptTimer);
    this.acceptTimer = undefined;
    await this.listen();
  }

  faults(): SimFaults {
    return this.ctx.faults.get();
  }

  setFaults(patch: FaultPatch): SimFaults {
    return this.ctx.faults.apply(patch);
  }

  clearFaults(): void {
    this.ctx.faults.clear();
  }

  /** Clears faults, unloads models and zeroes counters (each optional). */
  reset(options: SimResetOptions = {}): void {
    if (options.faults !== false) this.ctx.faults.clear();
    if (options.models !== false) this.ctx.scheduler.unloadAll();
    if (options.stats !== false) {
      const { inFlight, inferenceInFlight } = this.ctx.stats;
      Object.assign(this.ctx.stats, emptyStats(), { inFlight, inferenceInFlight, peakInferenceInFlight: inferenceInFlight });
      for (const k of Object.keys(this.ctx.faults.injected)) delete this.ctx.faults.injected[k];
    }
  }

  state(): SimNodeState {
    const s: NodeStats = this.ctx.stats;
    return {
      id: this.id,
      url: this.url,
      listening: this.listening,
      inFlight: s.inFlight,
      inferenceInFlight: s.inferenceInFlight,
      peakInferenceInFlight: s.peakInferenceInFlight,
      queued: this.ctx.scheduler.queued,
      loaded: this.ctx.scheduler.views().map((v) => ({
        model: v.model.name,
        state: v.state,
        refCount: v.refCount,
        slotsInUse: v.slotsInUse,
        slotWaiters: v.slotWaiters,
        contextLength: v.contextLength,
        expiresAt: rfc3339Local(v.expiresAtMs),
      })),
      models: this.ctx.models.list().map((m) => m.name),
      requests: s.requests,
      byRoute: { ...s.byRoute },
      byStatus: { ...s.byStatus },
      completed: s.completed,
      cancelled: s.cancelled,
      tokens: s.tokens,
      loadsStarted: this.ctx.scheduler.loadsStarted,
      evictions: this.ctx.scheduler.evictions,
      faults: this.ctx.faults.get(),
      faultsInjected: { ...this.ctx.faults.injected },
    };
  }

  /** Stops the node: refuses new work, fails waiting requests, drops every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.acceptTimer) clearTimeout(this.acceptTimer);
    this.ctx.scheduler.close();
    const done = new Promise<void>((resolve) => {
      if (this.listening) this.server.close(() => resolve());
      else resolve();
    });
    this.listening = false;
    this.server.closeAllConnections();
    await done;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = this.ctx.ticker.now();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const method = req.method ?? 'GET';
    if (this.received.length >= RECENT_REQUESTS) this.received.shift();
    this.received.push({ method, path, headers: req.headers });
    if (!this.listening && !this.closed && !path.startsWith('/_sim')) {
      // A request on a connection that outlived `refuse`: a down server would not answer it.
      req.socket.destroy();
      return;
    }
    if (path === '/_sim' || path.startsWith('/_sim/')) {
      handleControl(this, this.peers, req, res, path).catch((e: unknown) => {
        if (!res.headersSent) sendNativeError(res, 500, String(e));
      });
      return;
    }
    this.serve(req, res, method, path, t0).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) sendNativeError(res, 500, (e as Error).message ?? String(e));
      else res.destroy();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, method: string, path: string, t0: number): Promise<void> {
    const { stats, faults } = this.ctx;
    stats.requests++;
    stats.inFlight++;
    const abort = new AbortController();
    const notes: string[] = [];
    const match = matchRoute(method, path);
    const routeKey = match.kind === 'none' ? `${method} (unknown)` : match.key;
    stats.byRoute[routeKey] = (stats.byRoute[routeKey] ?? 0) + 1;
    // Counted from here until the handler returns (in the tick of its last write) or the client
    // goes, whichever comes first; a hung request stays counted until its client goes.
    let inference = method === 'POST' && INFERENCE_PATHS.has(path);
    const leave = (): void => {
      if (!inference) return;
      inference = false;
      stats.inferenceInFlight--;
    };
    if (inference) stats.peakInferenceInFlight = Math.max(stats.peakInferenceInFlight, ++stats.inferenceInFlight);
    // A client that hangs up (EOF) cancels its request at once, as in Ollama, whose Go server sees the
    // EOF in its background read and cancels the request's context. Node would notice only at the
    // next write, holding the slot meanwhile: long enough for a balancer that reused the slot to
    // look as if it had sent one request too many.
    const socket = req.socket;
    const hungUp = (): void => {
      if (res.writableFinished) return;
      // Out of the count now: the response's 'close' comes only in the loop's close phase, after
      // requests that arrived in the same poll.
      leave();
      res.destroy();
    };
    socket.once('end', hungUp);
    socket.once('error', hungUp);
    res.once('close', () => {
      socket.off('end', hungUp);
      socket.off('error', hungUp);
      leave();
      stats.inFlight--;
      const complete = res.writableFinished;
      if (!complete && !abort.signal.aborted) {
        stats.cancelled++;
        abort.abort();
      }
      const status = complete ? String(res.statusCode) : 'aborted';
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      if (this.config.verbose) {
        const ms = (this.ctx.ticker.now() - t0).toFixed(1);
        this.log(`${new Date().toISOString()} [${this.id}] ${method} ${path} ${status} ${ms}ms${notes.length ? ` ${notes.join(' ')}` : ''}`);
      }
    });
    const flavor = flavorOfPath(path);
    const fail = (status: number, message: string): void => {
      if (res.headersSent || res.destroyed) return;
      if (flavor === 'openai') sendOpenAIError(res, status, message);
      else sendNativeError(res, status, message);
    };

    let hung = false;
    try {
      if (this.config.checkHost && isLoopbackAddress(this.config.host) && !isAllowedHost(req.headers.host)) {
        res.writeHead(403, { 'Content-Length': 0 });
        res.end();
        return;
      }
      const failure = faults.takeFailure(path);
      if (failure) {
        notes.push(`fault=failNext`);
        req.resume();
        fail(failure.status, failure.message);
        return;
      }
      if (faults.takeHang(path)) {
        // Read the body so the client is not blocked on its upload, then never answer.
        notes.push('fault=hang');
        req.resume();
        hung = true;
        return;
      }
      if (match.kind === 'none' || match.kind === 'method') {
        req.resume();
        const text = match.kind === 'none' ? '404 page not found' : '405 method not allowed';
        res.writeHead(match.kind === 'none' ? 404 : 405, { 'Content-Type': 'text/plain', 'Content-Length': text.length });
        res.end(text);
        return;
      }
      const r: RouteRequest = {
        req,
        res,
        method,
        path,
        params: match.params,
        signal: abort.signal,
        t0,
        note: (k, v) => notes.push(`${k}=${v}`),
      };
      try {
        await match.route.handler(this.ctx, r);
      } catch (e) {
        if (e instanceof SimHttpError) {
          if (e.status === 499 && abort.signal.aborted) return;
          fail(e.status, e.message);
        } else {
          fail(500, (e as Error).message ?? String(e));
        }
      }
    } finally {
      if (!hung) leave();
    }
  }
}
