import type { IncomingMessage, ServerResponse } from 'node:http';
import { type NodeSnapshot, StrategyFactory } from '@ollama-ring/balancer';
import type { GatewayContext } from '../gateway-context';
import { sendError } from '../http/errors';
import { SeriesRecorder, type SeriesSample } from './series';
import { DashboardSessions } from './session';
import { type DashboardSnapshot, dashboardSnapshot } from './snapshot';

/** The feed's settings; the defaults are what the gateway uses. */
export interface FeedOptions {
  /** How often a sample is taken and pages are sent a snapshot. */
  tickMs: number;
  /** How many samples a page opened now gets (at one a tick: the last five minutes). */
  historySamples: number;
  /** Event streams open at once; one more is refused with 503. */
  maxStreams: number;
}

export const FEED_DEFAULTS: FeedOptions = { tickMs: 1_000, historySamples: 300, maxStreams: 100 };

/**
 * A page that has this much of our writes not yet taken by its connection misses ticks until it
 * catches up, rather than have the gateway hold an ever longer backlog for it.
 */
const MAX_BUFFERED_BYTES = 256 * 1024;

/** How often, between ticks, the nodes' states are compared with those last sent. */
const WATCH_MS = 200;

/** What of the nodes' states makes a snapshot go out before its tick: health, breaker, admin state. */
function stateOf(nodes: readonly (Pick<NodeSnapshot, 'id' | 'breakerState' | 'adminDisabled' | 'draining' | 'enabled'> & { health: string })[]): string {
  return nodes.map((n) => `${n.id}:${n.health.toLowerCase()}:${n.breakerState}:${n.adminDisabled}:${n.draining}:${n.enabled}`).join(',');
}

/**
 * The dashboard's live side, one per gateway: a {@link SeriesRecorder} hearing the scheduler, and
 * the pages' event streams (Server-Sent Events). Each tick it closes a second of the series and, when
 * any page is open, takes one {@link DashboardSnapshot} and writes the same bytes to every page:
 * the cost of a page beyond the first is one socket write a tick. A page opened gets the history and
 * the last snapshot at once.
 *
 * Events: `init` (`{strategies, tickMs, history, snapshot}`), then `tick` (a snapshot, its `sample`
 * the second just ended), and between ticks `pool` (a snapshot sent early because a node changed
 * state; its `sample` is the last tick's again), as JSON in the `data` field.
 *
 * @example
 * const feed = new DashboardFeed(gw).start();
 * router.add('GET', '/dashboard/events', ({ req, res }) => feed.open(req, res));
 * feed.close(); // when the gateway closes
 */
export class DashboardFeed {
  readonly series: SeriesRecorder;
  readonly sessions = new DashboardSessions();
  private readonly opts: FeedOptions;
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private last: DashboardSnapshot | undefined;
  /** Snapshots being taken and sent, one after another (a tick never skips one that is under way). */
  private sending: Promise<void> = Promise.resolve();
  private pending = 0;
  /** While any page is open: the node-state check between ticks (`watch`). */
  private watcher: NodeJS.Timeout | undefined;
  /** The nodes' states in the last snapshot sent. */
  private sentState = '';
  /** The API keys the open streams were admitted under. */
  private keys: unknown;

  constructor(
    private readonly gw: GatewayContext,
    opts: Partial<FeedOptions> = {},
  ) {
    this.opts = { ...FEED_DEFAULTS, ...opts };
    this.series = new SeriesRecorder(this.opts.historySamples);
    this.keys = gw.config().auth.apiKeys;
  }

  /** Subscribes to the scheduler and starts ticking. */
  start(): this {
    this.unsubscribe ??= this.gw.factory.observe(this.series.observer);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.opts.tickMs);
      // History is worth a timer only while the gateway runs; it never keeps the process alive.
      this.timer.unref();
    }
    return this;
  }

  /** Event streams open now. */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Answers `GET /dashboard/events`: 401 without the right to read (see {@link DashboardSessions}),
   * 503 past `maxStreams`, else an event stream that stays open until the page or the gateway closes.
   */
  async open(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.sessions.allows(req, this.gw.config())) {
      sendError(res, 401, 'unauthorized: the dashboard needs an API key (POST /dashboard/session with it, then the cookie; or Authorization: Bearer / X-API-Key)', 'ollama');
      return;
    }
    if (this.streams.size >= this.opts.maxStreams || !this.timer) {
      sendError(res, 503, `too many dashboards open (${this.opts.maxStreams})`, 'ollama', 5);
      return;
    }
    const snapshot = this.last ?? (await dashboardSnapshot(this.gw, this.series, this.series.latest(Date.now())));
    if (res.destroyed) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // A reverse proxy must pass each event on as it comes, not buffer the stream.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    if (!this.watcher) {
      this.watcher = setInterval(() => this.watch(), WATCH_MS);
      this.watcher.unref();
    }
    const init = { strategies: StrategyFactory.names(), tickMs: this.opts.tickMs, history: this.series.history(), snapshot };
    res.write(`retry: 2000\nevent: init\ndata: ${JSON.stringify(init)}\n\n`);
    this.streams.add(res);
    res.once('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0) this.stopWatching();
    });
  }

  private stopWatching(): void {
    clearInterval(this.watcher);
    this.watcher = undefined;
  }

  /** Stops ticking and ends every stream (the gateway is closing). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopWatching();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  private async tick(): Promise<void> {
    const sample = this.series.close(Date.now());
    if (this.streams.size === 0) {
      // Nobody to show it to: the next page to open takes a fresh snapshot.
      this.last = undefined;
      return;
    }
    this.recheckKeys();
    await this.send('tick', sample);
  }

  /**
   * Between ticks, a node's change of health, breaker or admin state goes out at once (as a `pool`
   * event, which carries the last second's sample again and is not a new one), so that a node
   * going down shows within a fraction of a second of the scheduler knowing it. Reading the nodes
   * alone is cheap; the snapshot is taken only on a change.
   */
  private watch(): void {
    if (this.streams.size === 0 || this.pending > 0 || !this.last) return;
    // Removed nodes finishing their last requests are not on the dashboard (nor in /api/stats).
    const nodes = this.gw.factory
      .getNodeRegistry()
      .getAllNodes()
      .filter((n) => !n.removed);
    if (stateOf(nodes) === this.sentState) return;
    void this.send('pool', this.last.sample);
  }

  /** Takes one snapshot and writes the same bytes to every stream, after any send under way. */
  private send(event: 'tick' | 'pool', sample: SeriesSample): Promise<void> {
    this.pending++;
    this.sending = this.sending.then(() => this.write(event, sample)).finally(() => this.pending--);
    return this.sending;
  }

  private async write(event: 'tick' | 'pool', sample: SeriesSample): Promise<void> {
    if (this.streams.size === 0) return;
    try {
      const snap = await dashboardSnapshot(this.gw, this.series, sample);
      this.last = snap;
      this.sentState = stateOf(
        snap.nodes.map((n) => ({ id: n.id, health: n.state, breakerState: n.breaker, adminDisabled: n.adminDisabled, draining: n.draining, enabled: n.enabled })),
      );
      const frame = Buffer.from(`event: ${event}\ndata: ${JSON.stringify(snap)}\n\n`);
      for (const res of this.streams) if (res.writableLength < MAX_BUFFERED_BYTES) res.write(frame);
    } catch (e) {
      this.gw.logger.warn({ err: e }, 'dashboard: snapshot failed');
    }
  }

  /** After a reload that changed the API keys, a stream whose key is gone is ended. */
  private recheckKeys(): void {
    const cfg = this.gw.config();
    if (this.keys === cfg.auth.apiKeys) return;
    this.keys = cfg.auth.apiKeys;
    for (const res of this.streams) {
      if (!this.sessions.allows(res.req, cfg)) {
        res.end();
        this.streams.delete(res);
      }
    }
  }
}

const feeds = new WeakMap<GatewayContext, DashboardFeed>();

/**
 * The gateway's dashboard feed, made and started on first use (when the dashboard routes are added).
 *
 * @example dashboardFor(gw).openStreams;
 */
export function dashboardFor(gw: GatewayContext): DashboardFeed {
  let f = feeds.get(gw);
  if (!f) feeds.set(gw, (f = new DashboardFeed(gw).start()));
  return f;
}

/** The gateway is closing: the feed stops and its streams end (they would otherwise hold the drain). */
export function closeDashboard(gw: GatewayContext): void {
  feeds.get(gw)?.close();
}
