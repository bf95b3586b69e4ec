import { yieldEventLoop } from './spin-idle';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategy';

/**
 * Spins without pause on worker threads: the lowest latency, at the price of a whole core per
 * waiting thread. Only for machines where every handler thread has a core of its own. On the main
 * thread it cannot spin (that would freeze the event loop), so it polls once per event-loop turn.
 *
 * @example
 * new BusySpinWaitStrategy();
 */
export class BusySpinWaitStrategy implements WaitStrategy {
  readonly kind = 'busy-spin' as const;
  readonly timeoutMs = 0;
  /** Backs off by its own iteration count instead. */
  readonly spinTries = 0;
  prepareIdle(): number {
    return 0;
  }
  cancelIdle(): void {}
  idleSync(): void {}
  idleAsync(): Promise<void> {
    return yieldEventLoop();
  }
  signal(): void {}
  describe(): WaitStrategyDescriptor {
    return { kind: this.kind };
  }
}
