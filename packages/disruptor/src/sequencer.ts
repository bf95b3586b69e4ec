import { isMainThread } from 'node:worker_threads';
import { IllegalStateError, InsufficientCapacityError, InvalidArgumentError } from './errors';
import { Sequence, seqDiff, seqGt } from './sequence';
import { laggardSequence, minimumSequence } from './sequence-group';
import type { WaitStrategy, WaitStrategyDescriptor } from './wait-strategies/wait-strategy';

/** Plain, postable data from which a sequencer is re-attached on another thread. */
export interface SequencerDescriptor {
  type: 'single' | 'multi';
  bufferSize: number;
  cursor: SharedArrayBuffer;
  state: SharedArrayBuffer;
  gating: SharedArrayBuffer[];
  waitStrategy: WaitStrategyDescriptor;
  /** Multi-producer only: the per-slot lap flags. */
  available?: SharedArrayBuffer;
}

/** The claim-and-publish side of a ring: producers claim sequences, write slots, then publish. */
export interface Sequencer {
  readonly bufferSize: number;
  /** For single-producer, the highest published sequence; for multi-producer, the highest claimed. */
  readonly cursor: Sequence;
  readonly waitStrategy: WaitStrategy;
  /** Claims `n` slots, waiting for capacity; returns the highest. On the main thread it never waits. */
  next(n?: number): number;
  /** Claims `n` slots or throws `InsufficientCapacityError` at once. */
  tryNext(n?: number): number;
  /** Claims `n` slots, awaiting capacity without blocking the thread. */
  nextAsync(n?: number): Promise<number>;
  publish(sequence: number): void;
  publishRange(lo: number, hi: number): void;
  isAvailable(sequence: number): boolean;
  /** The highest sequence in [lo, available] up to which every slot is published. */
  getHighestPublishedSequence(lo: number, available: number): number;
  remainingCapacity(): number;
  addGatingSequences(...sequences: Sequence[]): void;
  removeGatingSequence(sequence: Sequence): boolean;
  getMinimumSequence(): number;
  /** Stops every producer wait for good: waiting and later claims throw `IllegalStateError`. */
  halt(reason: string): void;
  isHalted(): boolean;
  describe(): SequencerDescriptor;
}

const HALTED = 0;

/** Why `next()` refuses to wait on the main thread. */
export const MAIN_THREAD_BLOCK = 'next() would block the main thread; use tryNext() or nextAsync()';

/** What single- and multi-producer sequencers share: gating, halting and the capacity waits. */
export abstract class AbstractSequencer implements Sequencer {
  readonly bufferSize: number;
  readonly cursor: Sequence;
  readonly waitStrategy: WaitStrategy;
  protected gating: Sequence[];
  protected readonly state: Int32Array;
  private haltReason = '';

  protected constructor(
    bufferSize: number,
    waitStrategy: WaitStrategy,
    initial: number,
    shared?: { cursor: SharedArrayBuffer; state: SharedArrayBuffer; gating: SharedArrayBuffer[] },
  ) {
    if (bufferSize < 1 || (bufferSize & (bufferSize - 1)) !== 0 || bufferSize > 2 ** 30) {
      throw new InvalidArgumentError(`bufferSize must be a power of two between 1 and 2^30, got ${bufferSize}`);
    }
    this.bufferSize = bufferSize;
    this.waitStrategy = waitStrategy;
    this.cursor = shared ? Sequence.attach(shared.cursor) : new Sequence(initial);
    this.state = new Int32Array(shared?.state ?? new SharedArrayBuffer(64));
    this.gating = shared ? shared.gating.map((s) => Sequence.attach(s)) : [];
  }

  abstract next(n?: number): number;
  abstract tryNext(n?: number): number;
  abstract publish(sequence: number): void;
  abstract publishRange(lo: number, hi: number): void;
  abstract isAvailable(sequence: number): boolean;
  abstract getHighestPublishedSequence(lo: number, available: number): number;
  abstract remainingCapacity(): number;
  protected abstract describeExtra(): Partial<SequencerDescriptor>;
  protected abstract readonly type: 'single' | 'multi';

  async nextAsync(n = 1): Promise<number> {
    for (let it = 0; ; it++) {
      try {
        return this.tryNext(n);
      } catch (e) {
        if (!(e instanceof InsufficientCapacityError)) throw e;
      }
      const ws = this.waitStrategy;
      const on = laggardSequence(this.gating, this.cursor).signal;
      const token = ws.prepareIdle(on);
      if (this.hasCapacityNow(n) || this.isHalted()) {
        ws.cancelIdle(on);
        continue;
      }
      // The bound is a safety net only: consumers signal when they advance.
      await ws.idleAsync(on, token, it, 50);
    }
  }

  addGatingSequences(...sequences: Sequence[]): void {
    const cursor = this.cursor.get();
    for (const s of sequences) s.set(cursor);
    this.gating = [...this.gating, ...sequences];
  }

  removeGatingSequence(sequence: Sequence): boolean {
    const before = this.gating.length;
    this.gating = this.gating.filter((s) => s !== sequence);
    return this.gating.length !== before;
  }

  getMinimumSequence(): number {
    return minimumSequence(this.gating, this.cursor.get());
  }

  halt(reason: string): void {
    this.haltReason = reason;
    Atomics.store(this.state, HALTED, 1);
    // Producers may sleep on any gating sequence: wake them all so they see the halt.
    for (const g of this.gating) g.signal.wake();
    this.cursor.signal.wake();
  }

  isHalted(): boolean {
    return Atomics.load(this.state, HALTED) !== 0;
  }

  describe(): SequencerDescriptor {
    return {
      type: this.type,
      bufferSize: this.bufferSize,
      cursor: this.cursor.sab,
      state: this.state.buffer as SharedArrayBuffer,
      gating: this.gating.map((s) => s.sab),
      waitStrategy: this.waitStrategy.describe(),
      ...this.describeExtra(),
    };
  }

  protected checkHalted(): void {
    if (this.isHalted()) {
      throw new IllegalStateError(`sequencer halted${this.haltReason ? `: ${this.haltReason}` : ''}`);
    }
  }

  protected checkClaimSize(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.bufferSize) {
      throw new InvalidArgumentError(`n must be an integer between 1 and ${this.bufferSize}, got ${n}`);
    }
  }

  /** Whether `n` more slots could be claimed right now (used to re-check before sleeping). */
  protected abstract hasCapacityNow(n: number): boolean;

  /**
   * Waits until the slowest gating sequence has passed `wrapPoint`, and returns that minimum.
   * Worker threads block; on the main thread this throws instead, because a blocked main thread
   * could never run the handlers it is waiting for.
   */
  protected awaitGating(wrapPoint: number, fallback: number): number {
    const ws = this.waitStrategy;
    for (let it = 0; ; it++) {
      let min = minimumSequence(this.gating, fallback);
      if (!seqGt(wrapPoint, min)) return min;
      this.checkHalted();
      if (isMainThread) {
        throw new IllegalStateError(MAIN_THREAD_BLOCK);
      }
      if (it < ws.spinTries) continue;
      const on = laggardSequence(this.gating, this.cursor).signal;
      const token = ws.prepareIdle(on);
      min = minimumSequence(this.gating, fallback);
      if (!seqGt(wrapPoint, min) || this.isHalted()) {
        ws.cancelIdle(on);
        continue;
      }
      ws.idleSync(on, token, it, 50);
    }
  }

  protected freeSlots(consumed: number, produced: number): number {
    return this.bufferSize - seqDiff(produced, consumed);
  }
}
