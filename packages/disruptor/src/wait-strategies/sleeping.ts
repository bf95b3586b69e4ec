import type { SignalWord } from '../signal-word';
import { sleepEventLoop, sleepThread, yieldEventLoop, yieldThread } from './spin-idle';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategy';

const SPIN_TRIES = 100;
const YIELD_TRIES = 200;

/**
 * Spins, then yields, then sleeps in short naps. The producer never has to signal (publishing
 * costs nothing extra), and an idle consumer costs almost nothing; the price is up to one nap of
 * latency when work arrives after a quiet spell.
 *
 * @example
 * new SleepingWaitStrategy(0.1); // naps of 100 µs once spinning and yielding have not paid off
 */
export class SleepingWaitStrategy implements WaitStrategy {
  readonly kind = 'sleeping' as const;
  readonly timeoutMs = 0;
  /** Backs off by its own iteration count instead. */
  readonly spinTries = 0;
  readonly napMs: number;

  constructor(napMs = 0.1) {
    this.napMs = napMs;
  }
  prepareIdle(): number {
    return 0;
  }
  cancelIdle(): void {}
  idleSync(_on: SignalWord, _token: number, iteration: number, maxMs: number): void {
    if (iteration < SPIN_TRIES) return;
    if (iteration < YIELD_TRIES) yieldThread();
    else sleepThread(maxMs > 0 ? Math.min(maxMs, this.napMs) : this.napMs);
  }
  idleAsync(_on: SignalWord, _token: number, iteration: number): Promise<void> {
    // Timers on the main thread are 1 ms at best; a nap only after the cheap turns have failed.
    return iteration < YIELD_TRIES ? yieldEventLoop() : sleepEventLoop(1);
  }
  signal(): void {}
  describe(): WaitStrategyDescriptor {
    return { kind: this.kind, timeoutMs: this.napMs };
  }
}
