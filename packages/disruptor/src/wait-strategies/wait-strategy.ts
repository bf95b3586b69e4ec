/**
 * How a thread idles while it waits for a sequence: a consumer for the producer or its upstream
 * handlers, or a producer for its slowest consumer.
 *
 * The wait loop itself lives in the barrier and the sequencers; a strategy only supplies the idle
 * step. That keeps the subtle part (register as a waiter, re-check, then sleep) in one place for
 * every strategy, and lets the same strategy serve worker threads (which may block) and the main
 * thread (which must never block, and so awaits instead).
 */
export interface WaitStrategy {
  readonly kind: WaitStrategyKind;
  /** Total time a barrier may wait before it raises `WaitTimeoutError`; 0 for never. */
  readonly timeoutMs: number;

  /**
   * Called before the final re-check of the condition. Blocking strategies register the caller
   * as a waiter and return the generation to sleep on; others return 0.
   */
  prepareIdle(): number;
  /** Undoes `prepareIdle` when the re-check found the condition already met. */
  cancelIdle(): void;
  /**
   * Idles once (a worker thread may block here). `iteration` counts the idles of this wait, so
   * spinning strategies can back off. `maxMs` bounds a sleep. Ends the registration of `prepareIdle`.
   */
  idleSync(token: number, iteration: number, maxMs: number): void;
  /** As `idleSync`, but never blocks: the main thread awaits it. */
  idleAsync(token: number, iteration: number, maxMs: number): Promise<void>;
  /** Wakes every blocked waiter if there is one; cheap (one atomic load) when nobody waits. */
  signalAllWhenBlocking(): void;
  /** Wakes every waiter unconditionally (used for alerts and halts). */
  wakeAll(): void;
  /** Plain data from which `createWaitStrategy` rebuilds this strategy on another thread. */
  describe(): WaitStrategyDescriptor;
}

export type WaitStrategyKind = 'blocking' | 'lite-blocking' | 'sleeping' | 'yielding' | 'busy-spin' | 'timeout';

/** A wait strategy as plain, postable data; `shared` is the strategy's signal words, if it has any. */
export interface WaitStrategyDescriptor {
  kind: WaitStrategyKind;
  shared?: SharedArrayBuffer;
  timeoutMs?: number;
}

/** Resolves on the next turn of the event loop's check phase, after pending I/O has had its turn. */
export function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
