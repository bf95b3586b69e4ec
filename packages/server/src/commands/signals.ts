/** Graceful shutdown on SIGTERM/SIGINT: the first signal drains, a second one exits at once. */

export interface ShutdownOptions {
  /** Drains and closes; its result is the exit code. */
  drain: (signal: NodeJS.Signals) => Promise<number>;
  /** Called on a second signal while draining (default: `process.exit(1)`). */
  force?: (signal: NodeJS.Signals) => void;
  signals?: NodeJS.Signals[];
}

/**
 * Resolves with the drain's exit code once a signal has arrived and the drain finished. Listeners
 * are removed afterwards, so a later signal gets Node's default behaviour.
 */
export function untilShutdown(opts: ShutdownOptions): Promise<number> {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const force = opts.force ?? (() => process.exit(1));
  return new Promise((resolve) => {
    let draining = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (draining) {
        force(sig);
        return;
      }
      draining = true;
      opts
        .drain(sig)
        .catch(() => 1)
        .then((code) => {
          for (const s of signals) process.off(s, onSignal);
          resolve(code);
        });
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
