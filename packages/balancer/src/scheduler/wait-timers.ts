import { QueueTimeoutError } from '../errors';
import type { Scheduler } from './scheduler';

/**
 * The scheduler's timers: the queue-deadline timer (the earliest waiter's `queue.maxWaitMs`) and
 * the re-offer timer that offers waiters to the strategy again when no slot has freed. A timer
 * never touches pool state itself: it posts an event, which the scheduler applies in order.
 */
export class WaitTimers {
  private queueTimer: NodeJS.Timeout | undefined;
  private queueTimerAt = Infinity;
  private repumpTimer: NodeJS.Timeout | undefined;

  constructor(private readonly s: Scheduler) {}

  /** Ends every waiter whose deadline has passed with QueueTimeoutError (or its last upstream error). */
  expireWaiters(now: number): void {
    const s = this.s;
    let expired = false;
    for (const item of s.queue.inOrder()) {
      if (item.deadline > now) continue;
      s.queue.remove(item.requestId);
      expired = true;
      s.deps.observer?.timeout?.('queue');
      s.deps.observer?.rejected?.('queue_timeout');
      // queueMs sums every stay in the queue (retries included): the bound is over the whole life.
      item.ctx.queueMs += now - item.waitingSince;
      s.finish(item.ctx, 'timeout', item.ctx.lastError ?? new QueueTimeoutError(item.ctx.queueMs));
    }
    if (expired) s.deps.observer?.queueChanged?.(s.queue.depthByModel());
  }

  /** Keeps one timer armed for the earliest waiter's deadline. */
  armQueueTimer(): void {
    const s = this.s;
    const at = s.queue.earliestDeadline();
    if (at === this.queueTimerAt) return;
    clearTimeout(this.queueTimer);
    this.queueTimerAt = at;
    this.queueTimer = undefined;
    if (at === Infinity || s.isStopped()) return;
    this.queueTimer = setTimeout(() => {
      this.queueTimerAt = Infinity;
      s.post({ type: 'apply', label: 'queue-timer', fn: () => undefined });
    }, Math.max(0, at - s.now()) + 1);
  }

  /** Offers the waiters again in `ms` (once, however often it is asked before then). */
  armRepump(ms: number): void {
    if (this.repumpTimer) return;
    this.repumpTimer = setTimeout(() => {
      this.repumpTimer = undefined;
      this.s.post({ type: 'apply', label: 'repump', fn: () => undefined });
    }, ms);
  }

  clear(): void {
    clearTimeout(this.queueTimer);
    clearTimeout(this.repumpTimer);
    this.queueTimer = this.repumpTimer = undefined;
    this.queueTimerAt = Infinity;
  }
}
