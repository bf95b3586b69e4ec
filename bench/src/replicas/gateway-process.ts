/** `ollama-ring serve` as a child process: the built CLI, on a free port, with a config file. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { reapOnExit } from '../common/children';
import { freePort } from '../common/redis-server';

const CLI = resolve(__dirname, '..', '..', '..', 'packages', 'server', 'dist', 'cli.js');

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Whether it has exited (killed, or crashed). */
  gone(): boolean;
}

/**
 * Starts a gateway on `configFile` on a free port; resolves once its `/ready` answers 200 (whatever
 * its log level). `env`: extra variables (config overrides).
 */
export async function startGatewayProcess(configFile: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--port', String(port), '--host', '127.0.0.1'], {
    env: { ...process.env, OLLAMA_RING_CONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit(proc);
  let out = '';
  for (const s of [proc.stdout!, proc.stderr!]) s.setEncoding('utf8').on('data', (c: string) => void (out += c));
  const g: GatewayProcess = { proc, url: `http://127.0.0.1:${port}`, output: () => out, gone: () => proc.exitCode !== null || proc.signalCode !== null };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (g.gone()) throw new Error(`gateway exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    const ok = await fetch(`${g.url}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return g;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`gateway did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM (a graceful stop), SIGKILL after 10 s; nothing to do for one already gone. */
export async function stopGatewayProcess(g: GatewayProcess): Promise<void> {
  if (g.gone()) return;
  const exited = new Promise<void>((r) => g.proc.once('exit', () => r()));
  g.proc.kill('SIGTERM');
  const hard = setTimeout(() => g.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(hard);
}

/** SIGKILL, and resolves once it is gone. */
export async function killGatewayProcess(g: GatewayProcess): Promise<void> {
  if (g.gone()) return;
  const exited = new Promise<void>((r) => g.proc.once('exit', () => r()));
  g.proc.kill('SIGKILL');
  await exited;
}
