/**
 * HTTPS on the gateway's listener (`server.tls`): the certificate and key, and with `ca` client
 * certificates required (mTLS). The files are watched and re-read when they change (a renewal by
 * certbot, cert-manager or an editor), and the new ones go to `server.setSecureContext`: new
 * connections get them, open ones (a stream in progress) keep the context they started with.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Server as HttpsServer } from 'node:https';
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { ConfigError, type ServerTlsConfig } from '@ollama-ring/balancer';
import type { Logger } from 'pino';

/** The PEM contents of `server.tls`, as `https.createServer` and `setSecureContext` take them. */
export interface ServerTlsMaterial {
  cert: string;
  key: string;
  ca?: string;
}

/**
 * Reads the files of `server.tls` and checks that the key goes with the certificate. Throws a
 * `ConfigError` naming the key (`server.tls.cert`, …) of a file that cannot be read or used.
 *
 * @example const material = readServerTls(config.server.tls);
 */
export function readServerTls(tls: ServerTlsConfig): ServerTlsMaterial {
  const read = (key: 'cert' | 'key' | 'ca', path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError('cannot read the TLS files', [{ path: `server.tls.${key}`, message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})` }]);
    }
  };
  const material: ServerTlsMaterial = { cert: read('cert', tls.cert), key: read('key', tls.key), ...(tls.ca !== undefined && { ca: read('ca', tls.ca) }) };
  try {
    createSecureContext(material);
  } catch (e) {
    // OpenSSL's reason: a key that is not the certificate's, a file that is not PEM, …
    throw new ConfigError('unusable TLS files', [{ path: 'server.tls', message: e instanceof Error ? e.message : String(e) }]);
  }
  return material;
}

/**
 * The `https.createServer` options of `server.tls`: with a `ca`, a client must present a
 * certificate it signed, or the handshake fails.
 */
export function httpsOptions(material: ServerTlsMaterial): { cert: string; key: string; ca?: string; requestCert: boolean; rejectUnauthorized: boolean } {
  const mtls = material.ca !== undefined;
  return { ...material, requestCert: mtls, rejectUnauthorized: mtls };
}

/**
 * Watches the files of `server.tls` and hands changed, usable ones to `server.setSecureContext`.
 * Like the config watcher, it watches the files' directories (depth 0), not the files: a renewal
 * replaces a file by rename, and a Kubernetes Secret swaps a `..data` symlink. Files that cannot be
 * read or used (a key written before its certificate) are logged, and the last good ones stay.
 *
 * @example const w = new CertificateWatcher(server, config.server.tls, logger); await w.ready; … await w.close();
 */
export class CertificateWatcher {
  readonly ready: Promise<void>;
  private readonly watcher: FSWatcher;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private last: string;

  constructor(
    private readonly server: HttpsServer,
    private readonly tls: ServerTlsConfig,
    initial: ServerTlsMaterial,
    private readonly logger: Logger,
    debounceMs = 100,
  ) {
    this.last = fingerprint(initial);
    const files = [tls.cert, tls.key, ...(tls.ca !== undefined ? [tls.ca] : [])].map((f) => resolve(f));
    const names = new Set(files.map((f) => basename(f)));
    const dirs = [...new Set(files.map((f) => dirname(f)))];
    this.watcher = watch(dirs, { depth: 0, ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
    const onEvent = (path: string): void => {
      const name = basename(path);
      if (!names.has(name) && !name.startsWith('..')) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), debounceMs);
    };
    this.watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
    this.watcher.on('error', (e) => this.logger.warn({ err: e }, 'watching the TLS files failed'));
    this.ready = new Promise((r) => this.watcher.once('ready', () => r()));
  }

  /** Re-reads the files now; applies them if they changed and are usable. */
  reload(): void {
    this.timer = undefined;
    if (this.closed) return;
    let material: ServerTlsMaterial;
    try {
      material = readServerTls(this.tls);
    } catch (e) {
      this.logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'TLS files not reloaded; the last good certificate stays');
      return;
    }
    const next = fingerprint(material);
    if (next === this.last) return;
    this.server.setSecureContext(httpsOptions(material));
    this.last = next;
    this.logger.info({ cert: this.tls.cert }, 'TLS certificate reloaded: new connections use it');
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.watcher.close();
  }
}

function fingerprint(m: ServerTlsMaterial): string {
  return `${m.cert}\0${m.key}\0${m.ca ?? ''}`;
}
