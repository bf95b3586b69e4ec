import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, Pool, request } from 'undici';
import { certificateHint, type NodeAddress as NodeCallAddress, stripHopByHop, TlsPools } from '@ollama-ring/balancer';
import { OllamaRingError, classifyNetworkError, errorText } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';

/**
 * Client headers that must not reach a node: `host` (undici sets the node's own, which Ollama's
 * host check accepts), the length (bodies are re-framed), the gateway's credentials, our own
 * `x-ollama-ring-*` controls, and `accept-encoding` (the gateway parses what nodes send).
 */
const NOT_FORWARDED = new Set(['host', 'content-length', 'authorization', 'x-api-key', 'accept-encoding', 'expect']);

export { stripHopByHop };

/**
 * The headers of a client request that may go on to a node (see `NOT_FORWARDED`).
 *
 * @example upstream.text(node, { method: 'POST', path: '/api/show', body, headers: forwardable(req.headers), kind: 'op' });
 */
export function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const out = stripHopByHop(headers, NOT_FORWARDED);
  for (const k of Object.keys(out)) if (k.startsWith('x-ollama-ring-')) delete out[k];
  return out;
}

/**
 * Which timeouts a call gets, from `timeouts.*` in the config:
 * - `meta` (`/api/tags`, `/api/ps`, `/api/version`): the whole exchange within `healthCheckTimeoutMs`, as the health monitor's own probes;
 * - `op` (`/api/show`, `/api/delete`, `/api/copy`): the whole exchange within `requestTimeoutMs`;
 * - `upload` (`/api/blobs` uploads): the whole exchange within the gateway's `server.blobUploadTimeoutMs` (and its
 *   slack, so that a client too slow gets the gateway's 408 first), since the body streams from the client to the
 *   nodes as it comes, and so as slowly;
 * - `stream` (`/api/pull`, `/api/push`, `/api/create` progress): headers within `firstByteTimeoutMs`, then at most `idleTimeoutMs` between chunks, and no total (a pull of a large model takes as long as it takes).
 */
export type CallKind = 'meta' | 'op' | 'upload' | 'stream';

/** One request to one node. */
export interface UpstreamCall {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE';
  path: string;
  /** A string or Buffer, or a stream for a body too large to hold (a blob upload). */
  body?: string | Buffer | Readable;
  /** The body's content type (default `application/json`). */
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  kind: CallKind;
}

/**
 * A node of the pool to call, by id (a `NodeSnapshot` will do). Where it is and its credentials
 * come from the node registry: a snapshot's URL has its password masked.
 */
export interface NodeAddress {
  id: string;
}

/**
 * A call to a node that failed without an HTTP answer: refused, reset, or timed out. `status` is
 * what the gateway answers with: 504 for a timeout, 502 otherwise.
 */
export class NodeCallError extends OllamaRingError {
  static override brand = 'ERR_NODE_CALL';
  constructor(
    readonly nodeId: string,
    readonly status: 502 | 504,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(NodeCallError.brand, message, options);
  }
}

/** A node's answer, read whole. */
export interface TextResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A node's answer whose body is still streaming. */
export interface StreamResponse {
  status: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
}

/**
 * Direct calls from the gateway to nodes, for everything that does not go through the pipeline
 * (model listings and management). One undici agent per gateway, with the config's connect timeout;
 * per-call timeouts by {@link CallKind}; hop-by-hop headers stripped both ways. These calls are
 * metadata and management: they never load a model.
 *
 * @example
 * const up = upstreamFor(gw);
 * const tags = await up.json<{ models: unknown[] }>(node, '/api/tags');
 */
export class Upstream {
  private agent: Agent | undefined;
  private agentConnectMs = 0;
  /** Pools of the https nodes with TLS files of their own, made with the agent (and closed with it). */
  private tlsPools: TlsPools | undefined;

  constructor(private readonly gw: GatewayContext) {}

  /** The whole answer of a `meta`, `op` or `upload` call, under that kind's total deadline. */
  async text(node: NodeAddress, call: UpstreamCall): Promise<TextResponse> {
    const t = this.gw.config().timeouts;
    const c = this.gw.clientTimeouts;
    const totalMs = call.kind === 'meta' ? t.healthCheckTimeoutMs : call.kind === 'upload' ? c.blobUploadTimeoutMs + c.slackMs : t.requestTimeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), totalMs);
    const signal = call.signal ? AbortSignal.any([call.signal, deadline.signal]) : deadline.signal;
    try {
      const res = await this.send(node, { ...call, signal }, totalMs, totalMs);
      const text = await res.body.text();
      return { status: res.status, headers: res.headers, text };
    } catch (e) {
      if (deadline.signal.aborted && !call.signal?.aborted) {
        throw new NodeCallError(node.id, 504, `node ${node.id}: no answer to ${call.path} within ${totalMs} ms`, { cause: e });
      }
      throw e instanceof NodeCallError ? e : classify(node.id, call.path, e);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A GET whose answer must be 2xx JSON (`meta`): the parsed body, or a {@link NodeCallError} (an
   * HTTP error counts as 502 here: the listing simply has nothing from that node).
   */
  async json<T>(node: NodeAddress, path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.text(node, { method: 'GET', path, signal, kind: 'meta' });
    if (res.status < 200 || res.status >= 300) {
      throw new NodeCallError(node.id, 502, `node ${node.id}: ${path} answered ${res.status}: ${errorText(res.text) || '(empty body)'}`);
    }
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new NodeCallError(node.id, 502, `node ${node.id}: ${path} answered with malformed JSON`);
    }
  }

  /** A `stream` call: resolves once the node's headers are in; the body streams on. */
  async stream(node: NodeAddress, call: UpstreamCall): Promise<StreamResponse> {
    const t = this.gw.config().timeouts;
    try {
      return await this.send(node, call, t.firstByteTimeoutMs, t.idleTimeoutMs);
    } catch (e) {
      throw classify(node.id, call.path, e);
    }
  }

  /** Closes the agent's connections (the next call opens new ones). */
  async close(): Promise<void> {
    const a = this.agent;
    const p = this.tlsPools;
    this.agent = undefined;
    this.tlsPools = undefined;
    await Promise.all([a?.close().catch(() => undefined), p?.close()]);
  }

  private async send(node: NodeAddress, call: UpstreamCall, headersTimeout: number, bodyTimeout: number): Promise<StreamResponse> {
    const address = this.addressOf(node.id);
    // The node's own credentials, after the caller's headers: a client's Authorization for the
    // gateway is never forwarded (`forwardable`), and the node's basic auth must win anyway.
    const headers: Record<string, string> = { ...(call.headers ?? {}), ...address.headers };
    if (call.body !== undefined) headers['content-type'] = call.contentType ?? 'application/json';
    const res = await request(`${address.origin}${address.basePath}${call.path}`, {
      method: call.method,
      headers,
      body: call.body,
      signal: call.signal,
      headersTimeout,
      bodyTimeout,
      dispatcher: this.dispatcher(address),
    });
    return { status: res.statusCode, headers: stripHopByHop(res.headers, new Set(['content-length'])), body: res.body };
  }

  private addressOf(id: string): NodeCallAddress {
    const address = this.gw.factory.getNodeRegistry().addressOf(id);
    if (!address) throw new NodeCallError(id, 502, `node ${id} is no longer in the pool`);
    return address;
  }

  private dispatcher(address: NodeCallAddress): Dispatcher {
    const connectMs = this.gw.config().timeouts.connectTimeoutMs;
    if (!this.agent || !this.tlsPools || this.agentConnectMs !== connectMs) {
      // A reload changed the connect timeout: calls in progress finish on the old agent.
      void this.agent?.close().catch(() => undefined);
      void this.tlsPools?.close();
      this.agent = new Agent({ connect: { timeout: connectMs }, keepAliveTimeout: 4_000, connections: 16 });
      this.tlsPools = new TlsPools((origin, tls) => new Pool(origin, { connect: { timeout: connectMs, ...tls }, keepAliveTimeout: 4_000, connections: 16 }));
      this.agentConnectMs = connectMs;
    }
    // An https node's own CA and client certificate: a pool of its own; every other node shares the agent.
    return address.tls ? this.tlsPools.get(address.origin, address.tls) : this.agent;
  }
}

function classify(nodeId: string, path: string, e: unknown): NodeCallError {
  if (e instanceof NodeCallError) return e;
  const c = classifyNetworkError(e);
  if (c.kind === 'timeout') return new NodeCallError(nodeId, 504, `node ${nodeId}: ${path} timed out (${c.code})`, { cause: e });
  const what = c.code === 'ECONNREFUSED' ? 'connection refused' : e instanceof Error ? e.message : String(e);
  return new NodeCallError(nodeId, 502, `node ${nodeId}: ${path} failed: ${what}${certificateHint(c.code)}`, { cause: e });
}

const upstreams = new WeakMap<GatewayContext, Upstream>();

/**
 * The gateway's {@link Upstream}, created on first use.
 *
 * @example const tags = await upstreamFor(gw).json(node, '/api/tags');
 */
export function upstreamFor(gw: GatewayContext): Upstream {
  let u = upstreams.get(gw);
  if (!u) upstreams.set(gw, (u = new Upstream(gw)));
  return u;
}

/**
 * Closes the gateway's node connections for management calls. `Gateway.close()` calls it once its
 * requests are drained; the next call opens new connections.
 *
 * @example await closeUpstream(gateway);
 */
export async function closeUpstream(gw: GatewayContext): Promise<void> {
  await upstreams.get(gw)?.close();
}
