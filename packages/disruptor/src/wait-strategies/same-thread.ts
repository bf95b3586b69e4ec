import { IllegalStateError } from '../errors';
import type { SignalWord } from '../signal-word';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategy';

/**
 * For a ring whose producers and handlers all run on one thread (the main thread's inline stages):
 * lite-blocking's flag protocol, but a sleeper awaits a promise that the signaller resolves
 * directly, with no futex. A same-thread wake through `Atomics.waitAsync` also has V8 post a task
 * to settle the futex wait, so each hop between inline stages cost a loop task besides the
 * microtask that does the work. A handler on a worker thread cannot use it: rebuilding it there
 * throws.
 *
 * @example
 * new Disruptor({ layout, size: 1024, waitStrategy: new SameThreadWaitStrategy() }); // inline handlers only
 */
export class SameThreadWaitStrategy implements WaitStrategy {
  readonly kind = 'same-thread' as const;
  readonly timeoutMs = 0;
  readonly spinTries = 0;

  prepareIdle(on: SignalWord): number {
    const gen = on.generation();
    on.raiseFlag();
    return gen;
  }

  cancelIdle(): void {
    // Leave the flag up, as lite-blocking does: a spurious wake-up is harmless.
  }

  idleSync(): void {
    throw new IllegalStateError('the same-thread wait strategy cannot block: it serves only handlers on the thread that publishes');
  }

  idleAsync(on: SignalWord, token: number, _iteration: number, maxMs: number): Promise<void> {
    return on.sleepLocal(token, maxMs);
  }

  signal(on: SignalWord): void {
    if (on.takeFlag()) on.wakeLocal();
  }

  describe(): WaitStrategyDescriptor {
    return { kind: this.kind };
  }
}
