import { Pool } from 'undici';
import { NDJSON_CONTENT_TYPE, ROUTE_PATHS, SSE_CONTENT_TYPE } from '@ollama-ring/protocol';
import { UpstreamError } from '../errors';
import { nodeUrlParts } from '../nodes/node-url';
import { readTlsFiles, tlsFilesKey } from '../nodes/node-tls';
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
  /** `tlsFilesKey` of the node's TLS files: a change makes a new pool. */
  tlsKey: string;
  pool?: Pool;
  /** Why there is no pool: a TLS file of the node cannot be read. Each dispatch to it fails with it. */
  error?: UpstreamError;
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
        void p.pool?.close().catch(() => undefined);
      }
    }
    for (const n of nodes) {
      const cur = this.pools.get(n.id);
      const tlsKey = tlsFilesKey(n.tls);
      if (cur && cur.url === n.url && cur.connections === n.connections && cur.tlsKey === tlsKey) continue;
      if (cur) void cur.pool?.close().catch(() => undefined);
      // The pool is opened to the origin, which drops the URL's credentials: they travel as a
      // header instead, built here once per node, not per request.
      const { origin, basePath, headers } = nodeUrlParts(n.url);
      const entry: NodePool = { url: n.url, basePath, headers: { ...REQUEST_HEADERS, ...headers }, connections: n.connections, tlsKey };
      try {
        // An https node's CA and client certificate, read when its pool is made (start, reload).
        const tls = readTlsFiles(n.tls);
        entry.pool = new Pool(origin, {
          // Headroom over the slots, so a socket being torn down never holds up a new request.
          connections: n.connections + 2,
          pipelining: 1,
          connect: { timeout: this.opts.connectTimeoutMs, ...tls },
          keepAliveTimeout: 30_000,
          // Per-request values are passed on each request; these are only the fallbacks.
          headersTimeout: 0,
          bodyTimeout: 0,
        });
      } catch (e) {
        entry.error = new UpstreamError(n.id, 0, `node ${n.id}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      this.pools.set(n.id, entry);
    }
  }

  dispatch(job: DispatchJob): Promise<DispatchOutcome> {
    const t0 = performance.now();
    const entry = this.pools.get(job.nodeId);
    if (!entry?.pool) {
      return Promise.resolve({
        kind: 'failed',
        error: entry?.error ?? new UpstreamError(job.nodeId, 0, `node ${job.nodeId} is not in the pool`),
        started: false,
        refused: true,
        latencyMs: 0,
        ttftMs: 0,
      });
    }
    if (job.signal.aborted) return Promise.resolve({ kind: 'aborted', started: false, latencyMs: 0 });
    const pool = entry.pool;
    // Only a traced request pays for a headers object of its own.
    const headers = job.trace ? { ...entry.headers, ...job.trace } : entry.headers;
    return new Promise<DispatchOutcome>((resolve) => new UpstreamExchange(job, t0, resolve).send(pool, `${entry.basePath}${ROUTE_PATHS[job.route]}`, headers));
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.pool?.close().catch(() => undefined)));
  }
}
