import { SignalWord } from './signal-word';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategy';

/**
 * Sleeps on a futex word (`Atomics.wait` on workers, `Atomics.waitAsync` on the main thread).
 * Every signal while anyone sleeps bumps the generation and calls `notify`, so a burst of
 * publishes during one sleep costs one notify each. `LiteBlockingWaitStrategy` avoids that.
 * The default on machines where a spinning thread would steal the only other core.
 *
 * @example
 * new Disruptor({ layout, size: 1024, waitStrategy: new BlockingWaitStrategy() });
 */
export class BlockingWaitStrategy implements WaitStrategy {
  readonly kind: 'blocking' | 'timeout' = 'blocking';
  readonly timeoutMs: number = 0;
  protected readonly signal: SignalWord;

  constructor(shared?: SharedArrayBuffer) {
    this.signal = new SignalWord(shared);
  }

  prepareIdle(): number {
    const gen = this.signal.generation();
    this.signal.register();
    return gen;
  }

  cancelIdle(): void {
    this.signal.unregister();
  }

  idleSync(token: number, _iteration: number, maxMs: number): void {
    try {
      this.signal.sleepSync(token, maxMs);
    } finally {
      this.signal.unregister();
    }
  }

  async idleAsync(token: number, _iteration: number, maxMs: number): Promise<void> {
    try {
      await this.signal.sleepAsync(token, maxMs);
    } finally {
      this.signal.unregister();
    }
  }

  signalAllWhenBlocking(): void {
    if (this.signal.hasWaiters()) this.signal.wake();
  }

  wakeAll(): void {
    this.signal.wake();
  }

  describe(): WaitStrategyDescriptor {
    return { kind: this.kind, shared: this.signal.sab, timeoutMs: this.timeoutMs };
  }
}
