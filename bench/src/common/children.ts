import type { ChildProcess } from 'node:child_process';

/** Child processes that must not outlive this one. */
const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Kills `proc` (SIGKILL) if it is still running when this process exits. A gateway or redis-server
 * spawned with pipes does not notice its parent's death: a benchmark stopped midway would leave
 * them running, holding ports and taking CPU from the next run. Signals end a Node process without
 * its `exit` handlers, so a benchmark's `main` calls {@link exitOnSignals} as well.
 */
export function reapOnExit(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

/** SIGINT and SIGTERM exit through `process.exit`, so that the `exit` handlers (above) run. */
export function exitOnSignals(): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
