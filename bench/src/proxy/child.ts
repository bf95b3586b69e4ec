/**
 * Forks the bench's helper processes (sim, gateway, load generator). Each runs alone in its own
 * process so that one's event loop never delays another's: on a shared machine they still share
 * cores, but no request waits behind another component's callbacks in the same loop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FromChild, LoopDelay, ToChild } from './protocol';

export interface Child {
  readonly pid: number;
  /** The origin the child serves on (empty for the load generator). */
  readonly url: string;
  send(m: ToChild): void;
  on(listener: (m: FromChild) => void): () => void;
  /** Starts recording the child's event-loop delay (sim and gateway children). */
  loopStart(): void;
  /** Stops recording and returns what was recorded. */
  loopStop(): Promise<LoopDelay>;
  /** Asks the child to close, and kills it if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `dist/proxy/<script>.js` with `arg` as JSON in argv[2]; resolves once it says 'ready'.
 * With `profile`, the child writes a V8 CPU profile there when it exits (`--cpu-prof`).
 */
export function startChild(script: string, arg: unknown, timeoutMs = 30_000, profile?: { dir: string; name: string }): Promise<Child> {
  const proc = fork(join(__dirname, `${script}.js`), [JSON.stringify(arg)], {
    // Not the parent's flags: under a debugger or jest they would change what is measured.
    execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`, `--cpu-prof-name=${profile.name}.cpuprofile`] : [],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise<Child>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`${script}: ${why}${stderr ? `\n${stderr.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const onExit = (code: number | null): void => fail(`exited with ${code} before it was ready`);
    proc.once('exit', onExit);
    proc.on('message', function first(m: FromChild) {
      if (m.type === 'failed') return fail(m.error);
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      proc.off('exit', onExit);
      proc.off('message', first);
      // Later stderr is the child's business (a crash still shows through the exit code).
      proc.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
      resolve(wrap(proc, m.url, exited));
    });
  });
}

function wrap(proc: ChildProcess, url: string, exited: Promise<void>): Child {
  return {
    pid: proc.pid ?? -1,
    url,
    send: (m) => proc.send(m),
    on(listener) {
      proc.on('message', listener);
      return () => proc.off('message', listener);
    },
    loopStart: () => proc.send({ type: 'loop', on: true }),
    loopStop: () =>
      new Promise<LoopDelay>((resolve) => {
        const onMessage = (m: FromChild): void => {
          if (m.type !== 'loop-report') return;
          proc.off('message', onMessage);
          resolve({ p50Ms: m.p50Ms, p99Ms: m.p99Ms, maxMs: m.maxMs });
        };
        proc.on('message', onMessage);
        proc.send({ type: 'loop', on: false });
      }),
    async stop(graceMs = 5_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      if (proc.connected) proc.send({ type: 'stop' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** For the children: report a start-up failure to the driver, then exit. */
export function failStartup(e: unknown): void {
  const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  if (process.send) process.send({ type: 'failed', error }, () => process.exit(1));
  else {
    console.error(error);
    process.exit(1);
  }
}

/** For the children: exit when the driver goes away, so no orphan keeps a port. */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(0));
}

/**
 * For the sim and gateway children: answer the driver's `loop` messages with this process's
 * event-loop delay over the measured window (a late loop delays every byte the process moves).
 */
export function serveLoopDelay(): void {
  const h = monitorEventLoopDelay({ resolution: 1 });
  process.on('message', (m: ToChild) => {
    if (m.type !== 'loop') return;
    if (m.on) {
      h.reset();
      h.enable();
      return;
    }
    h.disable();
    // The histogram holds whole intervals of its 1 ms timer; the delay is what exceeds 1 ms.
    const ms = (ns: number): number => (h.count === 0 ? NaN : Math.max(0, ns / 1e6 - 1));
    process.send?.({ type: 'loop-report', p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) });
  });
}
