import { QueueTimeoutError } from '../errors';
import type { SchedulerObserver } from './observer';
import type { FinishRequest, PoolState, PostEvent } from './pool-state';

/** What the timers need: the queue, the clock, and how to end a request or post a tick. */
export interface WaitTimersDeps {
  readonly pool: Pick<PoolState, 'queue' | 'now'>;
  readonly observer?: SchedulerObserver;
  readonly finish: FinishRequest;
  readonly post: PostEvent;
  readonly isStopped: () => boolean;
}

/**
 * The scheduler's timers: the queue-deadline timer (the earliest waiter's `queue.maxWaitMs`), the
 * re-offer timer that offers waiters to the strategy again when no slot has freed, and the sweep
 * for non-streamed answers past their expected time (see `Suspicion`). A timer
 * never touches pool state itself: it posts an event, which the scheduler applies in order.
 */
export class WaitTimers {
  private queueTimer: NodeJS.Timeout | undefined;
  private queueTimerAt = Infinity;
  private repumpTimer: NodeJS.Timeout | undefined;
  private overdueTimer: NodeJS.Timeout | undefined;

  constructor(private readonly d: WaitTimersDeps) {}

  /** Ends every waiter whose deadline has passed with QueueTimeoutError (or its last upstream error). */
  expireWaiters(now: number): void {
    const { pool, observer } = this.d;
    // A walk without a copy first: in most passes nobody is due.
    if (pool.queue.earliestDeadline() > now) return;
    let expired = false;
    for (const item of pool.queue.inOrder()) {
      if (item.deadline > now) continue;
      pool.queue.remove(item.requestId);
      expired = true;
      observer?.timeout?.('queue');
      observer?.rejected?.('queue_timeout');
      // queueMs sums every stay in the queue (retries included): the bound is over the whole life.
      item.ctx.queueMs += now - item.waitingSince;
      this.d.finish(item.ctx, 'timeout', item.ctx.lastError ?? new QueueTimeoutError(item.ctx.queueMs));
    }
    if (expired) observer?.queueChanged?.(pool.queue.depthByModel());
  }

  /**
   * Keeps one timer armed no later than the earliest waiter's deadline. A timer armed for an
   * earlier time is left as it is, even when its waiter has gone: it fires, finds nothing due, and
   * the pass after it arms for whoever waits then. Re-arming at every change would set and clear a
   * timer per request whenever the queue empties and refills request by request, the common case
   * when slots are free (profiled: about 2 % of the gateway's CPU per request).
   */
  armQueueTimer(): void {
    const { pool, post } = this.d;
    const at = pool.queue.earliestDeadline();
    if (at >= this.queueTimerAt) return;
    clearTimeout(this.queueTimer);
    this.queueTimerAt = at;
    this.queueTimer = undefined;
    if (at === Infinity || this.d.isStopped()) return;
    this.queueTimer = setTimeout(
      () => {
        this.queueTimerAt = Infinity;
        post({ type: 'timer-fired', timer: 'queue-deadline' });
      },
      Math.max(0, at - pool.now()) + 1,
    );
    // It may outlive its waiter (above): it must not hold a process whose pipeline is otherwise
    // idle. A running pipeline's processors keep the process alive while requests wait.
    this.queueTimer.unref();
  }

  /** Offers the waiters again in `ms` (once, however often it is asked before then). */
  armReoffer(ms: number): void {
    if (this.repumpTimer) return;
    this.repumpTimer = setTimeout(() => {
      this.repumpTimer = undefined;
      this.d.post({ type: 'timer-fired', timer: 'reoffer' });
    }, ms);
  }

  /** Sweeps dispatched requests for overdue answers in `ms` (once, however often it is asked before then). */
  armOverdueSweep(ms: number): void {
    if (this.overdueTimer || this.d.isStopped()) return;
    this.overdueTimer = setTimeout(() => {
      this.overdueTimer = undefined;
      this.d.post({ type: 'timer-fired', timer: 'overdue' });
    }, ms);
  }

  clear(): void {
    clearTimeout(this.queueTimer);
    clearTimeout(this.repumpTimer);
    clearTimeout(this.overdueTimer);
    this.queueTimer = this.repumpTimer = this.overdueTimer = undefined;
    this.queueTimerAt = Infinity;
  }
}
