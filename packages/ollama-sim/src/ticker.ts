/**
 * One timer for the whole process. Hundreds of token streams each want a callback every few
 * milliseconds; arming one `setTimeout` per token costs a timer-list insertion and a separate
 * event-loop callback each time. Instead every due time goes into one min-heap, a single timer is armed
 * for the earliest entry, and each wake-up flushes every entry that has come due.
 */
import { performance } from 'node:perf_hooks';

/** Something the ticker calls back. `tickIndex` is owned by the ticker (heap position, -1 when idle). */
export interface TickTask {
  tickDue: number;
  tickIndex: number;
  onTick(now: number): void;
}

/**
 * What the sim needs from a clock that calls tasks back at given times. `Ticker` is the one the sim
 * uses; the interface lets a benchmark swap in a naive one to measure the difference.
 */
export interface TickScheduler {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Schedules (or reschedules) `task` at monotonic time `due`. */
  schedule(task: TickTask, due: number): void;
  /** Removes `task` if scheduled. */
  cancel(task: TickTask): void;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Entries due within this many ms of now run in the current flush: timers never fire early. */
const EARLY_MS = 0.25;

export class Ticker implements TickScheduler {
  private heap: TickTask[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private flushing = false;

  /** Milliseconds on the monotonic clock the ticker schedules against. */
  now(): number {
    return performance.now();
  }

  /** Number of scheduled tasks (for tests and state reports). */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules (or reschedules) `task` at monotonic time `due` ms. */
  schedule(task: TickTask, due: number): void {
    if (task.tickIndex >= 0) this.remove(task);
    task.tickDue = due;
    task.tickIndex = this.heap.length;
    this.heap.push(task);
    this.up(task.tickIndex);
    if (!this.flushing) this.arm();
  }

  /** Removes `task` if scheduled. Safe to call twice. */
  cancel(task: TickTask): void {
    if (task.tickIndex < 0) return;
    this.remove(task);
    if (!this.flushing) this.arm();
  }

  /** A promise that resolves after `ms`, or rejects with `signal`'s reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        this.cancel(task);
        reject(signal?.reason);
      };
      const task: TickTask = {
        tickDue: 0,
        tickIndex: -1,
        onTick: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.schedule(task, this.now() + ms);
    });
  }

  private flush = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    this.flushing = true;
    try {
      let now = this.now();
      let n = 0;
      while (this.heap.length > 0 && this.heap[0].tickDue <= now + EARLY_MS) {
        const task = this.heap[0];
        this.remove(task);
        try {
          task.onTick(now);
        } catch (err) {
          // A task's own bug must not stall every other stream; surface it without stopping the flush.
          process.emitWarning(`ollama-sim ticker task threw: ${String(err)}`);
        }
        // Refresh the clock now and then: a long flush must not run later tasks against a stale "now".
        if ((++n & 63) === 0) now = this.now();
      }
    } finally {
      this.flushing = false;
      this.arm();
    }
  };

  private arm(): void {
    if (this.heap.length === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDue = Infinity;
      return;
    }
    const due = this.heap[0].tickDue;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    // Node timers have 1 ms granularity and round down sub-ms delays to 1; Math.floor keeps a
    // task from waking a whole extra millisecond late, and EARLY_MS absorbs the remainder.
    this.timer = setTimeout(this.flush, Math.max(0, Math.floor(due - this.now())));
  }

  private remove(task: TickTask): void {
    const i = task.tickIndex;
    const last = this.heap.pop() as TickTask;
    task.tickIndex = -1;
    if (last !== task) {
      this.heap[i] = last;
      last.tickIndex = i;
      this.down(i);
      this.up(last.tickIndex);
    }
  }

  private up(i: number): void {
    const h = this.heap;
    const t = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].tickDue <= t.tickDue) break;
      h[i] = h[p];
      h[i].tickIndex = i;
      i = p;
    }
    h[i] = t;
    t.tickIndex = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r].tickDue < h[l].tickDue ? r : l;
      if (h[c].tickDue >= t.tickDue) break;
      h[i] = h[c];
      h[i].tickIndex = i;
      i = c;
    }
    h[i] = t;
    t.tickIndex = i;
  }
}

/** The process-wide ticker every node shares. */
export const sharedTicker = new Ticker();
