import { Pool } from 'undici';
import { NDJSON_CONTENT_TYPE, ROUTE_PATHS, SSE_CONTENT_TYPE } from '@ollama-ring/protocol';
import { UpstreamError } from '../errors';
import { nodeUrlParts } from '../nodes/node-url';
import { UpstreamExchange } from '../upstream/exchange';
import type { DispatchJob, DispatchOutcome, NodeEndpoint } from './dispatch-types';

/** The same for every request (undici reads, never changes, them). */
const REQUEST_HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: `application/json, ${NDJSON_CONTENT_TYPE}, ${SSE_CONTENT_TYPE}`,
};

interface NodePool {
  url: string;
  basePath: string;
  /** Every request's headers: {@link REQUEST_HEADERS}, plus the node's basic auth when its URL has credentials. */
  headers: Record<string, string>;
  connections: number;
  pool: Pool;
}

export class Dispatcher {
  private readonly pools = new Map<string, NodePool>();

  constructor(private readonly opts: { connectTimeoutMs: number }) {}

  /** Creates, keeps or closes pools so that there is one per node, with matching sizes. */
  setNodes(nodes: readonly NodeEndpoint[]): void {
    const keep = new Set(nodes.map((n) => n.id));
    for (const [id, p] of this.pools) {
      if (!keep.has(id)) {
        this.pools.delete(id);
        void p.pool.close().catch(() => undefined);
      }
    }
    for (const n of nodes) {
      const cur = this.pools.get(n.id);
      if (cur && cur.url === n.url && cur.connections === n.connections) continue;
      if (cur) void cur.pool.close().catch(() => undefined);
      // The pool is opened to the origin, which drops the URL's credentials: they travel as a
      // header instead, built here once per node, not per request.
      const { origin, basePath, headers } = nodeUrlParts(n.url);
      this.pools.set(n.id, {
        url: n.url,
        basePath,
        headers: { ...REQUEST_HEADERS, ...headers },
        connections: n.connections,
        pool: new Pool(origin, {
          // Headroom over the slots, so a socket being torn down never holds up a new request.
          connections: n.connections + 2,
          pipelining: 1,
          connect: { timeout: this.opts.connectTimeoutMs },
          keepAliveTimeout: 30_000,
          // Per-request values are passed on each request; these are only the fallbacks.
          headersTimeout: 0,
          bodyTimeout: 0,
        }),
      });
    }
  }

  dispatch(job: DispatchJob): Promise<DispatchOutcome> {
    const t0 = performance.now();
    const entry = this.pools.get(job.nodeId);
    if (!entry) {
      return Promise.resolve({
        kind: 'failed',
        error: new UpstreamError(job.nodeId, 0, `node ${job.nodeId} is not in the pool`),
        started: false,
        refused: true,
        latencyMs: 0,
        ttftMs: 0,
      });
    }
    if (job.signal.aborted) return Promise.resolve({ kind: 'aborted', started: false, latencyMs: 0 });
    return new Promise<DispatchOutcome>((resolve) => new UpstreamExchange(job, t0, resolve).send(entry.pool, `${entry.basePath}${ROUTE_PATHS[job.route]}`, entry.headers));
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.pool.close().catch(() => undefined)));
  }
}
