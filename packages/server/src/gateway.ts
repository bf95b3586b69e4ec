import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type BalancerConfig, ConfigError, type Pipeline, PipelineFactory } from '@ollama-ring/balancer';
import { Route, flavorOfPath } from '@ollama-ring/protocol';
import pino, { type Logger } from 'pino';
import type { GatewayContext, RequestLogEntry } from './gateway-context';
import { closeDashboard } from './dashboard/feed';
import { closeBatches, stopBatches } from './http/batch-context';
import { closeWorkflows, stopWorkflows } from './http/workflow-routes';
import { addInferenceRoutes } from './http/inference-routes';
import { sendError } from './http/errors';
import { operationsFor } from './http/operations';
import { type ClientTimeouts, clientTimeouts, RequestDeadlines } from './http/request-deadlines';
import { type HttpContext, Router } from './http/router';
import { listenOn, serves, type SidePlan, sidePlans, type Surface, surfaceOf } from './http/side-listeners';
import { closeUpstream } from './http/upstream';
import { CertificateWatcher, httpsOptions, readServerTls } from './tls-listener';

export interface GatewayOptions {
  /** A started factory; the gateway stops it on `close()`. */
  factory: PipelineFactory;
  logger?: Logger;
  /** Re-reads the config for `POST /admin/reload` and SIGHUP-style reloads. */
  loadConfig?: () => BalancerConfig;
  /** Adds more routes (admin, status, model management). */
  routes?: ((router: Router, gw: GatewayContext) => void)[];
  /**
   * The client timeouts, each by default its `server.*` config key: to receive a request's headers,
   * a whole request, a whole blob upload, and how long an idle connection is kept. Read once, here:
   * a change of the config's needs a new gateway (a restart).
   */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  blobUploadTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /**
   * With `server.tls`: re-read the certificate files when they change (default true). Like the
   * other listener settings, `server.tls` itself is read once, here.
   */
  watchTls?: boolean;
}

const URL_BASE = 'http://gateway.invalid';
/**
 * A path a URL parser would leave as it is: segments of letters, digits, `-` and `_`, with no
 * query, fragment, escape, dot segment, backslash, or empty segment (`//x` is a host to a parser).
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_-]+)+$/;

/** What a handler gets; the request's `URL` is parsed only if the handler reads it. */
class RouteContext implements HttpContext {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly params: Record<string, string>,
    private parsed: URL | undefined,
  ) {}

  get url(): URL {
    return (this.parsed ??= new URL(this.req.url ?? '/', URL_BASE));
  }
}

/**
 * The HTTP front: speaks Ollama's and OpenAI's APIs, sends inference through the pipeline, and
 * drains gracefully. Unknown paths get Ollama's own `404 page not found`, wrong methods its
 * `405 method not allowed`.
 *
 * @example
 * const gw = new Gateway({ factory: await PipelineFactory.fromConfig(cfg).start() });
 * await gw.listen(8080, '127.0.0.1');
 */
export class Gateway implements GatewayContext {
  readonly factory: PipelineFactory;
  readonly logger: Logger;
  readonly router = new Router();
  readonly clientTimeouts: ClientTimeouts;
  private readonly deadlines: RequestDeadlines;
  private readonly server: Server;
  /** The listeners of `metrics.listen` and `admin.listen`, and the surfaces they take off the main one. */
  private readonly sides: { plan: SidePlan; server: Server }[];
  private readonly moved = new Set<Surface>();
  /** `https` with `server.tls`, else `http`. */
  readonly scheme: 'http' | 'https';
  private readonly certificates: CertificateWatcher | undefined;
  private readonly opts: GatewayOptions;
  private closing: Promise<void> | undefined;

  constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.factory = opts.factory;
    this.logger = opts.logger ?? pino({ level: 'silent' });
    addInferenceRoutes(this.router, this);
    for (const add of opts.routes ?? []) add(this.router, this);
    const t = (this.clientTimeouts = clientTimeouts(this.factory.getConfig().server, opts));
    this.deadlines = new RequestDeadlines(t);
    // Slowloris: headers must arrive within headersTimeout (Node enforces it), and a whole request
    // within its route class's deadline (RequestDeadlines enforces them: Node has one requestTimeout
    // for all, kept here as a backstop just above the longest).
    const listener = {
      headersTimeout: t.headersTimeoutMs,
      requestTimeout: t.blobUploadTimeoutMs + t.slackMs,
      connectionsCheckingInterval: t.checkEveryMs,
      keepAliveTimeout: t.keepAliveTimeoutMs,
    };
    const handler =
      (own?: ReadonlySet<Surface>) =>
      (req: IncomingMessage, res: ServerResponse): void =>
        void this.handle(req, res, own);
    const tls = this.factory.getConfig().server.tls;
    if (tls) {
      // Read (and checked) here: a file that cannot be used stops the start with a ConfigError naming its key.
      const material = readServerTls(tls);
      const server: HttpsServer = createHttpsServer({ ...listener, ...httpsOptions(material) }, handler());
      this.server = server;
      this.scheme = 'https';
      this.certificates = opts.watchTls === false ? undefined : new CertificateWatcher(server, tls, material, this.logger);
    } else {
      this.server = createServer(listener, handler());
      this.scheme = 'http';
    }
    // Read once, like server.host and server.port: a change needs a restart. The side listeners are
    // plain HTTP whatever server.tls says: they are for a private interface (a scraper, an operator).
    this.sides = sidePlans(this.factory.getConfig()).map((plan) => ({ plan, server: createServer(listener, handler(plan.surfaces)) }));
    for (const { plan } of this.sides) for (const s of plan.surfaces) this.moved.add(s);
  }

  config(): BalancerConfig {
    return this.factory.getConfig();
  }

  pipeline(): Pipeline {
    return this.factory.getPipeline();
  }

  async reload(): Promise<{ nodes: number; strategy: string }> {
    if (!this.opts.loadConfig) throw new ConfigError('no config file to reload from');
    const next = this.opts.loadConfig();
    await this.factory.reload(next);
    // The pool after the reload: the file's nodes plus those added at run time that it does not define.
    const nodes = this.factory.getConfig().nodes.length;
    this.logger.info({ nodes, configured: next.nodes.length, strategy: next.strategy.type }, 'config reloaded');
    return { nodes, strategy: next.strategy.type };
  }

  logRequest(e: RequestLogEntry): void {
    this.logger.info(
      {
        method: e.req.method,
        path: e.req.url,
        status: e.status,
        route: typeof e.route === 'number' ? Route[e.route] : e.route,
        node: e.nodeId || undefined,
        queueMs: e.queueMs !== undefined ? Math.round(e.queueMs) : undefined,
        ttftMs: e.ttftMs !== undefined ? Math.round(e.ttftMs) : undefined,
        latencyMs: e.latencyMs !== undefined ? Math.round(e.latencyMs) : undefined,
        tokens: e.tokens,
        retries: e.retries,
        outcome: e.outcome,
      },
      'request',
    );
  }

  /**
   * Starts listening, and the listeners of `metrics.listen` and `admin.listen` if set; resolves
   * with the main bound address (port 0 picks a free one). If one cannot listen, none stays open.
   */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    await this.certificates?.ready;
    const addr = await listenOn(this.server, port, host);
    try {
      for (const side of this.sides) await listenOn(side.server, side.plan.address.port, side.plan.address.host);
    } catch (e) {
      for (const srv of [this.server, ...this.sides.map((x) => x.server)]) if (srv.listening) srv.close();
      throw e;
    }
    return addr;
  }

  address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  /** Where `/metrics` and `/admin/*` are served when `metrics.listen` / `admin.listen` moved them (bound addresses). */
  sideAddresses(): Partial<Record<Surface, AddressInfo>> {
    const out: Partial<Record<Surface, AddressInfo>> = {};
    for (const { plan, server } of this.sides) {
      const addr = server.address() as AddressInfo | null;
      if (addr) for (const s of plan.surfaces) out[s] = addr;
    }
    return out;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs` (streams
   * included: inference through the pipeline, and model-management progress streams such as a
   * pull, push or create), then aborts what is left (a management stream ends with an in-band
   * `{"error":…}` line), stops the pipeline and closes every socket.
   */
  close(graceMs = 30_000): Promise<void> {
    this.closing ??= (async () => {
      const servers = [this.server, ...this.sides.map((x) => x.server)].filter((srv) => srv.listening);
      const closed = Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      for (const srv of servers) srv.closeIdleConnections();
      await this.certificates?.close();
      // Batch lines: none starts from now on; those running drain with the pipeline, and a line the
      // grace period cuts is left unrecorded, to run again at the next start.
      stopBatches(this);
      stopWorkflows(this);
      // The dashboards' event streams never end by themselves: ended now, they do not hold the drain.
      closeDashboard(this);
      const [, cut] = await Promise.all([this.factory.stop(graceMs), operationsFor(this).drain(graceMs)]);
      if (cut > 0) this.logger.warn({ cut, graceMs }, 'management requests still running at the end of the grace period were aborted');
      await closeBatches(this);
      await closeWorkflows(this);
      for (const srv of servers) srv.closeAllConnections();
      this.deadlines.close();
      await closeUpstream(this);
      await closed;
    })();
    return this.closing;
  }

  /** `own`: the surfaces of the extra listener the request came to; absent on the main one. */
  private async handle(req: IncomingMessage, res: ServerResponse, own?: ReadonlySet<Surface>): Promise<void> {
    const raw = req.url ?? '/';
    let url: URL | undefined;
    let pathname = raw;
    // A plain path (every route the gateway serves, without a query) is its own pathname: no URL
    // is parsed for it unless a handler asks (about 1 µs a request, and an object of a dozen fields).
    if (!PLAIN_PATH.test(raw)) {
      try {
        url = new URL(raw, URL_BASE);
      } catch {
        sendError(res, 400, 'malformed request URL', 'ollama');
        return;
      }
      pathname = url.pathname;
    }
    this.deadlines.watch(res, pathname);
    const m = serves(surfaceOf(pathname), own, this.moved) ? this.router.match(req.method ?? 'GET', pathname) : { status: 404 as const };
    if ('status' in m) {
      const text = m.status === 404 ? '404 page not found' : '405 method not allowed';
      const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
      if (m.allow) headers.allow = m.allow.join(', ');
      res.writeHead(m.status, headers);
      res.end(text);
      this.logRequest({ req, status: m.status, outcome: m.status === 404 ? 'not_found' : 'method_not_allowed' });
      return;
    }
    try {
      await m.handler(new RouteContext(req, res, m.params, url));
    } catch (e) {
      this.logger.error({ err: e, path: pathname }, 'handler failed');
      sendError(res, 500, e instanceof Error ? e.message : String(e), flavorOfPath(pathname));
    }
  }
}
