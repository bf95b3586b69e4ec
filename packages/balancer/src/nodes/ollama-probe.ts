import { performance } from 'node:perf_hooks';
import { Agent, Pool, request } from 'undici';
import { OllamaRingError, classifyNetworkError, errorText } from '@ollama-ring/protocol';
import { nodeUrlParts } from './node-url';
import { certificateHint, type TlsFiles, TlsPools } from './node-tls';

/**
 * What a probe needs to know about a node.
 *
 * @example
 * const target: ProbeTarget = { id: 'gpu-1', url: 'http://10.0.0.5:11434' };
 */
export interface ProbeTarget {
  id: string;
  url: string;
  /** An https node's CA and client certificate files. */
  tls?: TlsFiles;
}

/**
 * Why a probe failed: `refused` (nothing listens: the node is down), `timeout` (connect, headers,
 * body or the overall deadline), `http` (a non-2xx status), `malformed` (a body that is not what
 * Ollama sends), `network` (reset, DNS, …), `aborted` (the monitor stopped it).
 *
 * @example
 * if (result.errorKind === 'refused') breaker.trip(now);
 */
export type ProbeErrorKind = 'refused' | 'timeout' | 'http' | 'malformed' | 'network' | 'aborted';

/**
 * A failed probe request, classified.
 *
 * @example
 * try { await probe.getJson(target, '/api/ps'); } catch (e) { if (e instanceof ProbeError) log(e.kind); }
 */
export class ProbeError extends OllamaRingError {
  static override brand = 'ERR_PROBE';
  constructor(
    readonly kind: ProbeErrorKind,
    message: string,
    /** The HTTP status, for `http` failures. */
    readonly status?: number,
  ) {
    super(ProbeError.brand, message);
  }
}

/**
 * Which endpoint answers a health check: `/api/version` (the default: it also tells the version)
 * or `/` (must say `Ollama is running`). Neither loads a model.
 *
 * @example
 * new OllamaProbe({ timeoutMs: 5000, healthPath: '/' });
 */
export type HealthPath = '/' | '/api/version';

/**
 * The outcome of one health check, sent to the scheduler as an event: it alone updates the node.
 *
 * @example
 * const r: HealthResult = { nodeId: 'gpu-1', ok: true, latencyMs: 3.2, checkedAt: Date.now(), version: '0.12.6' };
 */
export interface HealthResult {
  nodeId: string;
  ok: boolean;
  latencyMs: number;
  /** Epoch ms when the check finished. */
  checkedAt: number;
  /** From `/api/version`, when that is the health path. */
  version?: string;
  error?: string;
  errorKind?: ProbeErrorKind;
}

/**
 * Settings of {@link OllamaProbe}.
 *
 * @example
 * const opts: ProbeOptions = { timeoutMs: config.timeouts.healthCheckTimeoutMs, connections: 1 };
 */
export interface ProbeOptions {
  /** Headers timeout, body timeout, and the deadline of a whole probe request. */
  timeoutMs: number;
  /** TCP connect timeout; defaults to `timeoutMs` (never more). */
  connectTimeoutMs?: number;
  /** Sockets per node; probes are rare and small. Default 3: a health check, `/api/tags` and `/api/ps` may overlap. */
  connections?: number;
  /** Largest response body accepted (a huge `/api/tags` is a fault, not a catalogue). Default 8 MiB. */
  maxBodyBytes?: number;
  healthPath?: HealthPath;
}

const OLLAMA_ROOT_TEXT = 'Ollama is running';

/**
 * The raw HTTP side of health checks and discovery: GETs to a node's read-only endpoints through a
 * dedicated undici `Agent` (small pools, short timeouts), so probes never queue behind long
 * inference requests on the dispatch pools. Only GET, only `/`, `/api/version`, `/api/tags`,
 * `/api/ps`: a probe never loads a model.
 *
 * @example
 * const probe = new OllamaProbe({ timeoutMs: 5000 });
 * const r = await probe.checkHealth({ id: 'gpu-1', url: 'http://10.0.0.5:11434' });
 * await probe.close();
 */
export class OllamaProbe {
  readonly timeoutMs: number;
  readonly healthPath: HealthPath;
  private readonly maxBodyBytes: number;
  private readonly agent: Agent;
  /** Pools of the nodes with TLS files of their own (the agent's connections use the system's CAs). */
  private readonly tlsPools: TlsPools;

  constructor(opts: ProbeOptions) {
    this.timeoutMs = Math.max(1, opts.timeoutMs);
    this.healthPath = opts.healthPath ?? '/api/version';
    this.maxBodyBytes = opts.maxBodyBytes ?? 8 * 1024 * 1024;
    this.agent = new Agent({
      connections: Math.max(1, opts.connections ?? 3),
      pipelining: 1,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: { timeout: Math.min(opts.connectTimeoutMs ?? this.timeoutMs, this.timeoutMs) },
    });
    this.tlsPools = new TlsPools(
      (origin, tls) =>
        new Pool(origin, {
          connections: Math.max(1, opts.connections ?? 3),
          pipelining: 1,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          connect: { timeout: Math.min(opts.connectTimeoutMs ?? this.timeoutMs, this.timeoutMs), ...tls },
        }),
    );
  }

  /** Checks that the node answers, via {@link healthPath}. Never throws. */
  async checkHealth(target: ProbeTarget, signal?: AbortSignal): Promise<HealthResult> {
    const t0 = performance.now();
    try {
      let version: string | undefined;
      if (this.healthPath === '/') {
        const text = await this.getText(target, '/', signal);
        if (!text.includes(OLLAMA_ROOT_TEXT)) throw new ProbeError('malformed', `GET / answered ${JSON.stringify(text.slice(0, 80))}, not "${OLLAMA_ROOT_TEXT}"`);
      } else {
        const body = await this.getJson(target, '/api/version', signal);
        version = isRecord(body) && typeof body.version === 'string' ? body.version : undefined;
        if (version === undefined) throw new ProbeError('malformed', '/api/version has no "version" string');
      }
      return { nodeId: target.id, ok: true, latencyMs: performance.now() - t0, checkedAt: Date.now(), ...(version !== undefined && { version }) };
    } catch (e) {
      const err = toProbeError(e);
      return { nodeId: target.id, ok: false, latencyMs: performance.now() - t0, checkedAt: Date.now(), error: err.message, errorKind: err.kind };
    }
  }

  /** GETs `path` and parses JSON. Throws {@link ProbeError}. */
  async getJson(target: ProbeTarget, path: string, signal?: AbortSignal): Promise<unknown> {
    const text = await this.getText(target, path, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ProbeError('malformed', `GET ${path}: invalid JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
  }

  /** GETs `path` and returns the body of a 2xx answer as text. Throws {@link ProbeError}. */
  async getText(target: ProbeTarget, path: string, signal?: AbortSignal): Promise<string> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.timeoutMs);
    timer.unref();
    const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    try {
      // A node behind an authenticating proxy: its URL's credentials go as a basic-auth header, and
      // its path prefix (`http://gw/ollama`) is kept. Worked out per probe: probes are seconds apart.
      const { origin, basePath, headers } = nodeUrlParts(target.url);
      const dispatcher = target.tls ? this.tlsPools.get(origin, target.tls) : this.agent;
      const res = await request(`${origin}${basePath}${path}`, { dispatcher, method: 'GET', headers, signal: combined });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const text = await readCapped(res.body, 4096, path, true);
        throw new ProbeError('http', `GET ${path}: HTTP ${res.statusCode}${reasonOf(text)}`, res.statusCode);
      }
      return await readCapped(res.body, this.maxBodyBytes, path, false);
    } catch (e) {
      if (signal?.aborted) throw new ProbeError('aborted', `GET ${path}: aborted`);
      if (deadline.signal.aborted) throw new ProbeError('timeout', `GET ${path}: no answer within ${this.timeoutMs} ms`);
      throw toProbeError(e, path);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the agent's sockets, waiting for requests still running. */
  async close(): Promise<void> {
    await this.tlsPools.close();
    if (!this.agent.closed) await this.agent.close();
  }
}

/**
 * Classifies anything a probe can throw.
 *
 * @example
 * toProbeError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).kind; // 'refused'
 */
export function toProbeError(e: unknown, path?: string): ProbeError {
  if (e instanceof ProbeError) return e;
  const where = path ? `GET ${path}: ` : '';
  const c = classifyNetworkError(e);
  if (c.kind === 'refused') return new ProbeError('refused', `${where}${c.code === 'ECONNREFUSED' ? 'connection refused' : `unreachable (${c.code})`}`);
  return new ProbeError(c.kind, `${where}${e instanceof Error ? e.message || c.code || e.name : String(e)}${certificateHint(c.code)}`);
}

// Leaving the loop early (break or throw) destroys the body, so an oversized answer costs no more.
async function readCapped(body: AsyncIterable<Buffer>, max: number, path: string, truncate: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      if (truncate) break;
      throw new ProbeError('malformed', `GET ${path}: response larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The reason an error answer gives, as `: reason`, or '' when it gives none. */
function reasonOf(body: string): string {
  const t = errorText(body, 120);
  return t ? `: ${t}` : '';
}

/**
 * Narrows unknown JSON to an object with string keys.
 *
 * @example
 * if (isRecord(body) && Array.isArray(body.models)) …
 */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
