/**
 * The gateway as a user runs it: the built CLI's `serve`, in a child process a test can kill
 * without warning (SIGKILL) to see what a crash leaves. Needs `tsc -b` first (scripts/test builds
 * before jest).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');

export interface Served {
  proc: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

/** Starts `ollama-ring serve --config cfg` and resolves once it listens. */
export function serve(cfg: string): Promise<Served> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.once('exit', r));
  let out = '';
  let err = '';
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => void (err += c));
  return new Promise<Served>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the gateway did not listen in time: ${out}${err}`)), 20_000);
    proc.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"listening"/.exec(out) ?? /"msg":"listening".*"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ proc, url: m[1], exited });
      }
    });
    void exited.then(() => fail(new Error(`the gateway exited: ${out}${err}`)));
  });
}
