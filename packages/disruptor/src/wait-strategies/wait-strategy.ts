import type { SignalWord } from '../signal-word';

/**
 * How a thread idles while it waits for a sequence: a consumer for the producer or its upstream
 * handlers, or a producer for its slowest consumer.
 *
 * The wait loop itself lives in the barrier and the sequencers; a strategy only supplies the idle
 * step, on the signal word of the sequence being waited for. That keeps the subtle part (register
 * as a waiter, re-check, then sleep) in one place for every strategy, and lets the same strategy
 * serve worker threads (which may block) and the main thread (which must never block, and so
 * awaits instead).
 */
export interface WaitStrategy {
  readonly kind: WaitStrategyKind;
  /** Total time a barrier may wait before it raises `WaitTimeoutError`; 0 for never. */
  readonly timeoutMs: number;
  /**
   * How many times a worker-thread waiter re-checks before it idles at all. A short spin lets a
   * consumer that has just caught up pick up the producer's next event without a sleep and a
   * wake-up (a futex syscall on each side); it is bounded, so an idle consumer still sleeps.
   */
  readonly spinTries: number;

  /**
   * Called before the final re-check of the condition. Blocking strategies register the caller
   * as a waiter on `on` and return the generation to sleep on; others return 0.
   */
  prepareIdle(on: SignalWord): number;
  /** Undoes `prepareIdle` when the re-check found the condition already met. */
  cancelIdle(on: SignalWord): void;
  /**
   * Idles once (a worker thread may block here). `iteration` counts the idles of this wait, so
   * spinning strategies can back off. `maxMs` bounds a sleep. Ends the registration of `prepareIdle`.
   */
  idleSync(on: SignalWord, token: number, iteration: number, maxMs: number): void;
  /** As `idleSync`, but never blocks: the main thread awaits it. */
  idleAsync(on: SignalWord, token: number, iteration: number, maxMs: number): Promise<void>;
  /** After `on`'s sequence moved: wakes its sleepers if there are any; one atomic load when there are none. */
  signal(on: SignalWord): void;
  /** Plain data from which `createWaitStrategy` rebuilds this strategy on another thread. */
  describe(): WaitStrategyDescriptor;
}

export type WaitStrategyKind = 'blocking' | 'lite-blocking' | 'sleeping' | 'yielding' | 'busy-spin' | 'timeout' | 'same-thread';

/** A wait strategy as plain, postable data. */
export interface WaitStrategyDescriptor {
  kind: WaitStrategyKind;
  timeoutMs?: number;
  spinTries?: number;
}

/** Re-checks before a blocking strategy parks a worker thread: about a microsecond here. */
export const DEFAULT_SPIN_TRIES = 100;
