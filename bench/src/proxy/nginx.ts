/**
 * nginx as the reference proxy: an `upstream` with `least_conn` and `keepalive` to the same sim
 * node, response buffering off so NDJSON streams pass line by line, as the gateway passes them.
 * Optional: when no nginx binary is found the bench says how to get one and skips it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { childrenOf } from './cpu';

export const NGINX_INSTALL_HINT = 'nginx not found; install it with `apt-get update && apt-get install -y nginx-light` (Debian/Ubuntu), or pass --nginx /path/to/nginx';

/** The nginx binary: `explicit` if given (and executable), else the first on PATH or in the sbin dirs. */
export function findNginx(explicit?: string): string | undefined {
  const candidates = explicit
    ? [explicit]
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'].map((d) => join(d, 'nginx'));
  return candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What the JSON and the report say about nginx. */
export type NginxInfo = { binary: string; version: string; workerProcesses: string; keepalive: number } | { skipped: true };

export interface NginxOptions {
  /** `worker_processes`; 'auto' (one per core) is what Debian's packaged nginx.conf sets. */
  workers: string;
  /** Idle upstream connections each worker keeps: the same bound the gateway gets as node slots. */
  keepalive: number;
}

export interface RunningNginx {
  url: string;
  /** Master and workers, for CPU accounting. */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * Every temp path compiled into this binary, redirected into `dir`: the packaged defaults
 * (/var/lib/nginx/…) need root, and a module built without one rejects the directive.
 */
function tempPathDirectives(bin: string, dir: string): string {
  // `nginx -V` prints its build flags on stderr.
  const v = spawnSync(bin, ['-V'], { encoding: 'utf8' });
  const names = [...`${v.stdout}${v.stderr}`.matchAll(/--http-([a-z-]+)-temp-path=/g)].map((m) => m[1].replace(/-/g, '_'));
  return names.map((n) => `  ${n}_temp_path ${join(dir, n)};`).join('\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function nginxConfig(dir: string, port: number, upstream: string, opts: NginxOptions, temps: string): string {
  return `daemon off;
master_process on;
worker_processes ${opts.workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
${temps}
  upstream ollama {
    least_conn;
    server ${upstream};
    keepalive ${opts.keepalive};
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ollama;
      # keepalive to the upstream needs HTTP/1.1 and no "Connection: close".
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Ollama's host check wants its own host, as the gateway sends it.
      proxy_set_header Host ${upstream};
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`;
}

/** Starts nginx in front of `simUrl`; resolves once it proxies a request. */
export async function startNginx(bin: string, simUrl: string, opts: NginxOptions): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-proxy-nginx-'));
  const port = await freePort();
  const upstream = new URL(simUrl).host;
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstream, opts, tempPathDirectives(bin, dir)));
  const proc: ChildProcess = spawn(bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGQUIT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`nginx exited with ${proc.exitCode}: ${stderr.trim()}`);
    }
    try {
      const res = await fetch(`${url}/api/version`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer on ${url}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, pids: () => [proc.pid ?? -1, ...childrenOf(proc.pid ?? -1)], stop };
}

/** `nginx/1.22.1`, from `nginx -v` (which prints on stderr). */
export function nginxVersion(bin: string): string {
  const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return `${v.stdout}${v.stderr}`.replace(/^nginx version:\s*/, '').trim();
}
