/**
 * What must not outlive the bench when it is interrupted (Ctrl-C, a CI timeout's SIGTERM) or fails:
 * nginx (which is not a Node child and does not notice its parent going), a baseline install or
 * build half done, the worktree it was building into. Forked Node children also exit by themselves
 * when the driver goes (exitWithParent), but are stopped here first all the same.
 */

type Cleanup = () => Promise<void>;

const pending = new Set<Cleanup>();
let installed = false;
let running: Promise<void> | undefined;

/** Registers `fn` to run if the bench is interrupted or fails; returns a function that unregisters it. */
export function onCleanup(fn: Cleanup): () => void {
  install();
  pending.add(fn);
  return () => {
    pending.delete(fn);
  };
}

/** Runs every registered cleanup, newest first, each at most once; errors are reported, not thrown. */
export function runCleanups(): Promise<void> {
  running ??= (async () => {
    const all = [...pending].reverse();
    pending.clear();
    for (const fn of all) {
      try {
        await fn();
      } catch (e) {
        console.error(`cleanup: ${(e as Error).message}`);
      }
    }
  })();
  return running;
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      console.error(`\nbench:proxy: ${signal}, cleaning up`);
      // A second signal while cleaning up ends the process at once.
      process.once(signal, () => process.exit(code));
      void runCleanups().finally(() => process.exit(code));
    });
  }
}
