import { BlockingWaitStrategy } from './blocking';
import type { WaitStrategyDescriptor } from './wait-strategy';

/**
 * Blocking, with a deadline: when nothing arrives within `timeoutMs`, the barrier raises
 * `WaitTimeoutError` and the batch processor calls its handler's `onTimeout(sequence)`. Handlers use
 * that to flush buffered work or to run periodic checks without a separate timer.
 *
 * @example
 * new TimeoutBlockingWaitStrategy(50); // onTimeout after 50 ms without events
 */
export class TimeoutBlockingWaitStrategy extends BlockingWaitStrategy {
  override readonly kind = 'timeout' as const;
  override readonly timeoutMs: number;

  constructor(timeoutMs: number, spinTries?: number) {
    super(spinTries);
    if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    this.timeoutMs = timeoutMs;
  }

  override describe(): WaitStrategyDescriptor {
    return { kind: 'timeout', timeoutMs: this.timeoutMs, spinTries: this.spinTries };
  }
}
