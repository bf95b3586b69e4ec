/**
 * The naive alternative to the sim's shared ticker: one setTimeout per scheduled task (so one per
 * token per stream). Used only by `bench:sim --timer per-task` to measure what the ticker buys.
 */
import { performance } from 'node:perf_hooks';
import type { TickScheduler, TickTask } from '@ollama-ring/ollama-sim';

export class PerTaskTimers implements TickScheduler {
  private readonly timers = new Map<TickTask, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  schedule(task: TickTask, due: number): void {
    this.cancel(task);
    task.tickDue = due;
    task.tickIndex = 0;
    const t = setTimeout(
      () => {
        this.timers.delete(task);
        task.tickIndex = -1;
        task.onTick(this.now());
      },
      Math.max(0, due - this.now()),
    );
    this.timers.set(task, t);
  }

  cancel(task: TickTask): void {
    const t = this.timers.get(task);
    if (t) clearTimeout(t);
    this.timers.delete(task);
    task.tickIndex = -1;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }
}
