import type { SignalWord } from '../signal-word';
import { yieldEventLoop, yieldThread } from './spin-idle';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategy';

const SPIN_TRIES = 100;

/**
 * Spins a hundred times, then gives the CPU back on every further try. Low latency with a little
 * less heat than busy-spin; still wants a core per waiting thread.
 *
 * @example
 * new YieldingWaitStrategy();
 */
export class YieldingWaitStrategy implements WaitStrategy {
  readonly kind = 'yielding' as const;
  readonly timeoutMs = 0;
  /** Backs off by its own iteration count instead. */
  readonly spinTries = 0;
  prepareIdle(): number {
    return 0;
  }
  cancelIdle(): void {}
  idleSync(_on: SignalWord, _token: number, iteration: number): void {
    if (iteration >= SPIN_TRIES) yieldThread();
  }
  idleAsync(): Promise<void> {
    return yieldEventLoop();
  }
  signal(): void {}
  describe(): WaitStrategyDescriptor {
    return { kind: this.kind };
  }
}
