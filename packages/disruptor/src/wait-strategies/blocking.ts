import type { SignalWord } from '../signal-word';
import { DEFAULT_SPIN_TRIES, type WaitStrategy, type WaitStrategyDescriptor } from './wait-strategy';

/**
 * Sleeps on the waited-for sequence's futex word (`Atomics.wait` on workers, `Atomics.waitAsync`
 * on the main thread). Sleepers keep a count; every advance of the sequence while the count is
 * non-zero bumps the generation and calls `notify`, so a burst of advances during one sleep costs
 * one notify each. `LiteBlockingWaitStrategy` avoids that.
 *
 * @example
 * new Disruptor({ layout, size: 1024, waitStrategy: new BlockingWaitStrategy() });
 */
export class BlockingWaitStrategy implements WaitStrategy {
  readonly kind: 'blocking' | 'timeout' = 'blocking';
  readonly timeoutMs: number = 0;
  readonly spinTries: number;

  constructor(spinTries = DEFAULT_SPIN_TRIES) {
    this.spinTries = spinTries;
  }

  prepareIdle(on: SignalWord): number {
    const gen = on.generation();
    on.register();
    return gen;
  }

  cancelIdle(on: SignalWord): void {
    on.unregister();
  }

  idleSync(on: SignalWord, token: number, _iteration: number, maxMs: number): void {
    try {
      on.sleepSync(token, maxMs);
    } finally {
      on.unregister();
    }
  }

  async idleAsync(on: SignalWord, token: number, _iteration: number, maxMs: number): Promise<void> {
    try {
      await on.sleepAsync(token, maxMs);
    } finally {
      on.unregister();
    }
  }

  signal(on: SignalWord): void {
    if (on.hasWaiters()) on.wake();
  }

  describe(): WaitStrategyDescriptor {
    return { kind: this.kind, timeoutMs: this.timeoutMs, spinTries: this.spinTries };
  }
}
