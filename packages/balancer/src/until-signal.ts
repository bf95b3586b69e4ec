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
