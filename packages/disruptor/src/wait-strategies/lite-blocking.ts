import { GEN, SignalWord, WAITERS } from './signal-word';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategy';

/**
 * Like blocking, but a sleeper raises a flag and the first signaller to see it clears the flag
 * (one atomic exchange) before it notifies. Further publishes during the same sleep see the flag
 * down and skip the notify entirely, so a fast producer pays for one wake-up per sleep, not one
 * per publish.
 *
 * @example
 * new Disruptor({ layout, size: 1024, waitStrategy: new LiteBlockingWaitStrategy() });
 */
export class LiteBlockingWaitStrategy implements WaitStrategy {
  readonly kind = 'lite-blocking' as const;
  readonly timeoutMs = 0;
  private readonly signal: SignalWord;

  constructor(shared?: SharedArrayBuffer) {
    this.signal = new SignalWord(shared);
  }

  prepareIdle(): number {
    const gen = Atomics.load(this.signal.words, GEN);
    // The flag lives in the WAITERS word; 1 means "somebody wants a notify".
    Atomics.store(this.signal.words, WAITERS, 1);
    return gen;
  }

  cancelIdle(): void {
    // Leave the flag up: another sleeper may share it, and a spurious wake-up is harmless.
  }

  idleSync(token: number, _iteration: number, maxMs: number): void {
    this.signal.sleepSync(token, maxMs);
  }

  idleAsync(token: number, _iteration: number, maxMs: number): Promise<void> {
    return this.signal.sleepAsync(token, maxMs);
  }

  signalAllWhenBlocking(): void {
    const w = this.signal.words;
    if (Atomics.load(w, WAITERS) !== 0 && Atomics.exchange(w, WAITERS, 0) !== 0) this.signal.wake();
  }

  wakeAll(): void {
    this.signal.wake();
  }

  describe(): WaitStrategyDescriptor {
    return { kind: this.kind, shared: this.signal.sab };
  }
}
