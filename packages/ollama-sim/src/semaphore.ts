/**
 * A counting semaphore with a FIFO wait and no cap on waiters: how a runner's `NUM_PARALLEL` slots
 * behave. A waiter whose client leaves is taken out of the line.
 */
import { SimCancelledError, SimClosedError } from './errors';

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

export class FifoSemaphore {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves when a slot is held; rejects with SimCancelledError if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.used < this.capacity && this.waiters.length === 0) {
      this.used++;
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(new SimCancelledError());
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new SimCancelledError());
      };
      const w: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.waiters.push(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter, so `used` stays the same.
    if (next) next.resolve();
    else this.used--;
  }

  /** Fails every waiter (node shutdown). */
  rejectAll(): void {
    for (const w of this.waiters.splice(0)) w.reject(new SimClosedError());
  }
}
