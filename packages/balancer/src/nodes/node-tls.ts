/**
 * TLS towards nodes: an `https://` node's CA and client certificate, from the pool-wide
 * `upstreamTls` and the node's own `tls` (a key of the node's wins). This module is their one home:
 * which files apply to a node, reading them, and the undici pools that carry them for the callers
 * that reach many nodes through one agent (probes, the gateway's management calls). The dispatch
 * pools (one per node) pass the same material to their own `Pool`.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { OllamaRingError } from '@ollama-ring/protocol';
import type { NodeUrlParts } from './node-url';

/**
 * PEM files, by path (relative to the working directory): `ca` the certificate authorities that
 * may sign the node's certificate (in place of the system's), `cert` and `key` the client
 * certificate the node may require (mTLS).
 *
 * @example const files: TlsFiles = { ca: '/etc/ollama-ring/nodes-ca.pem' };
 */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * How to call a node yourself: its URL's parts and, for an https node with files of its own, its
 * TLS files (`NodeRegistry.addressOf`).
 */
export type NodeAddress = NodeUrlParts & { readonly tls?: TlsFiles };

/** The files' contents, as `tls.connect` takes them. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/** A TLS file of a node could not be read (it was readable when the config loaded). */
export class NodeTlsError extends OllamaRingError {
  static override brand = 'ERR_NODE_TLS';
  constructor(message: string, options?: { cause?: unknown }) {
    super(NodeTlsError.brand, message, options);
  }
}

const TLS_KEYS = ['ca', 'cert', 'key'] as const;

/**
 * The files that apply to a node: for an `https://` URL, the pool-wide ones with the node's own
 * over them key by key; none for `http://`.
 *
 * @example nodeTlsFiles('https://gpu-1:11434', { ca: 'ca.pem' }, { cert: 'c.pem', key: 'k.pem' }); // { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' }
 */
export function nodeTlsFiles(url: string, poolWide: TlsFiles | undefined, own: TlsFiles | undefined): TlsFiles | undefined {
  if (!url.toLowerCase().startsWith('https:')) return undefined;
  const out: TlsFiles = {};
  for (const k of TLS_KEYS) {
    const v = own?.[k] ?? poolWide?.[k];
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The config with `upstreamTls` merged into each https node's `tls` (idempotent: a node's own keys
 * win). The loader's configs already are; a config built by hand (`PipelineFactory.fromConfig`)
 * becomes so here. Returns `config` itself when there is nothing pool-wide.
 *
 * @example const cfg = withUpstreamTls({ ...defaultConfig(), upstreamTls: { ca: 'ca.pem' }, nodes });
 */
export function withUpstreamTls<C extends { upstreamTls?: TlsFiles; nodes: readonly { url: string; tls?: TlsFiles }[] }>(config: C): C {
  const pool = config.upstreamTls;
  if (!pool) return config;
  return {
    ...config,
    nodes: config.nodes.map((n) => {
      const tls = nodeTlsFiles(n.url, pool, n.tls);
      return tls ? { ...n, tls } : n;
    }),
  };
}

/**
 * Reads the files. Throws {@link NodeTlsError} naming the file that cannot be read.
 *
 * @example new Pool(origin, { connect: { timeout: 10_000, ...readTlsFiles(files) } });
 */
export function readTlsFiles(files: TlsFiles | undefined): TlsMaterial {
  const out: TlsMaterial = {};
  if (!files) return out;
  for (const k of TLS_KEYS) {
    const path = files[k];
    if (path === undefined) continue;
    try {
      out[k] = readFileSync(path, 'utf8');
    } catch (e) {
      throw new NodeTlsError(`cannot read the TLS ${k} file ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
  }
  return out;
}

/** A key that tells two sets of files apart (same paths: same key). */
export function tlsFilesKey(files: TlsFiles | undefined): string {
  return files ? `${files.ca ?? ''}\0${files.cert ?? ''}\0${files.key ?? ''}` : '';
}

/**
 * One undici `Pool` per origin and set of TLS files, for callers that reach every node through one
 * agent and need a node's own TLS for its connections. Pools are made on first use and kept until
 * `close()`; a new set of files for an origin (a reload) gets a new pool and closes the old one.
 *
 * @example
 * const pools = new TlsPools((origin, connect) => new Pool(origin, { connect: { timeout: 5000, ...connect } }));
 * await request(url, { dispatcher: files ? pools.get(origin, files) : agent });
 */
export class TlsPools {
  private readonly pools = new Map<string, { key: string; pool: Pool }>();

  constructor(private readonly make: (origin: string, tls: TlsMaterial) => Pool) {}

  /** The pool for `origin` with `files`; throws {@link NodeTlsError} when a file cannot be read. */
  get(origin: string, files: TlsFiles): Pool {
    const key = tlsFilesKey(files);
    const cur = this.pools.get(origin);
    if (cur && cur.key === key) return cur.pool;
    const pool = this.make(origin, readTlsFiles(files));
    if (cur) void cur.pool.close().catch(() => undefined);
    this.pools.set(origin, { key, pool });
    return pool;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.pool.close().catch(() => undefined)));
  }
}

/** Codes of a node certificate that could not be verified (OpenSSL's, and Node's for the host name). */
const UNVERIFIED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/**
 * What to set, after the error of a TLS handshake with a node that failed for a reason the config
 * can fix, as ` (…)`; '' for any other error.
 *
 * @example `upstream gpu-1 failed: ${err.message}${certificateHint(code)}`
 */
export function certificateHint(code: string): string {
  if (UNVERIFIED.has(code)) return ": the node's certificate is not signed by a trusted CA (set upstreamTls.ca, or the node's tls.ca, to the CA that signed it)";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return ": the node's certificate does not name the host of its URL";
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return ": the node's certificate is outside its validity period";
  if (code.includes('ALERT_CERTIFICATE_REQUIRED') || code.includes('ALERT_BAD_CERTIFICATE') || code.includes('ALERT_UNKNOWN_CA')) {
    return ": the node refused the client certificate, or wants one (set upstreamTls.cert and .key, or the node's tls.cert and .key)";
  }
  return '';
}
