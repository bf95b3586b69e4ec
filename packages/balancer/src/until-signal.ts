import type { CancelSignal } from './upstream/cancel';

/**
 * Resolves when `p` settles or `signal` aborts, whichever comes first; never rejects. Used where a
 * wait on someone else (a slow client's socket draining) must not outlive an abort or a timeout.
 *
 * @example await untilSignal(sink.drained(), abort.signal);
 */
export function untilSignal(p: Promise<void>, signal: CancelSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    p.then(done, done);
  });
}

/**
 * Waits `ms`, or less if one of `signals` aborts first (at once if one already has); never rejects,
 * and leaves no timer or listener behind either way. The one abortable pause of the packages: retry
 * waits, polls, live views.
 *
 * @example await sleepUnless(1_000, stop.signal); // a second, or until stopped
 */
export function sleepUnless(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  return new Promise((resolve) => {
    if (live.some((s) => s.aborted)) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of live) s.addEventListener('abort', done, { once: true });
  });
}
