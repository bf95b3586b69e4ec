import { isMainThread } from 'node:worker_threads';
import { IllegalStateError, InsufficientCapacityError } from './errors';
import { AbstractSequencer, MAIN_THREAD_BLOCK, type SequencerDescriptor } from './sequencer';
import { INITIAL_SEQUENCE, seqAdd, seqGt, seqLe } from './sequence';
import { minimumSequence } from './sequence-group';
import type { WaitStrategy } from './wait-strategies/wait-strategy';

/**
 * A sequencer for any number of producing threads. The cursor is the claim counter; publishing
 * writes the slot's lap (`sequence >> log2(size)`) into a per-slot flag, so producers never wait
 * for one another to publish. Consumers take the highest contiguously published sequence.
 *
 * @example
 * const seq = new MultiProducerSequencer(1024, new BlockingWaitStrategy());
 * const hi = seq.next(4); // four slots: hi-3 .. hi
 * seq.publishRange(hi - 3, hi);
 */
export class MultiProducerSequencer extends AbstractSequencer {
  protected readonly type = 'multi' as const;
  private readonly available: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private cachedGating: number;

  constructor(
    bufferSize: number,
    waitStrategy: WaitStrategy,
    initial: number = INITIAL_SEQUENCE,
    shared?: {
      cursor: SharedArrayBuffer;
      state: SharedArrayBuffer;
      gating: SharedArrayBuffer[];
      available?: SharedArrayBuffer;
    },
  ) {
    super(bufferSize, waitStrategy, initial, shared);
    this.mask = bufferSize - 1;
    this.shift = Math.log2(bufferSize);
    if (shared?.available) {
      this.available = new Int32Array(shared.available);
    } else {
      this.available = new Int32Array(new SharedArrayBuffer(bufferSize * 4));
      // Each slot starts one lap behind the first sequence that will land in it, so nothing reads
      // as published, wherever the sequences start (tests start them just below the int32 wrap).
      for (let k = 1; k <= bufferSize; k++) {
        const s = seqAdd(initial, k);
        this.available[s & this.mask] = seqAdd(s, -bufferSize) >> this.shift;
      }
    }
    // Seeded from the real minimum: a thread that attaches late must not assume the consumers
    // have caught up with the cursor.
    this.cachedGating = minimumSequence(this.gating, this.cursor.get());
  }

  /** Re-attaches on another thread; any number of threads may produce at once. */
  static attach(d: SequencerDescriptor, waitStrategy: WaitStrategy): MultiProducerSequencer {
    return new MultiProducerSequencer(d.bufferSize, waitStrategy, 0, d);
  }

  next(n = 1): number {
    if (n !== 1) this.checkClaimSize(n);
    if (isMainThread) {
      // Claiming first and waiting after would leave an unpublished hole if we then refused to
      // block; on the main thread claim only what is free now.
      return this.tryNextOrThrowBlocking(n);
    }
    const current = this.cursor.getAndAdd(n);
    const nextSequence = seqAdd(current, n);
    const wrapPoint = seqAdd(nextSequence, -this.bufferSize);
    const cached = this.cachedGating;
    if (seqGt(wrapPoint, cached) || seqGt(cached, current)) {
      this.cachedGating = this.awaitGating(wrapPoint, current);
    }
    return nextSequence;
  }

  tryNext(n = 1): number {
    this.checkClaimSize(n);
    for (;;) {
      this.checkHalted();
      const current = this.cursor.get();
      const next = seqAdd(current, n);
      if (!this.hasCapacity(n, current)) throw new InsufficientCapacityError();
      if (this.cursor.compareAndSet(current, next)) return next;
    }
  }

  protected hasCapacityNow(n: number): boolean {
    return this.hasCapacity(n, this.cursor.get());
  }

  private tryNextOrThrowBlocking(n: number): number {
    try {
      return this.tryNext(n);
    } catch (e) {
      if (e instanceof InsufficientCapacityError) throw new IllegalStateError(MAIN_THREAD_BLOCK);
      throw e;
    }
  }

  private hasCapacity(n: number, current: number): boolean {
    const wrapPoint = seqAdd(current, n - this.bufferSize);
    const cached = this.cachedGating;
    if (seqGt(wrapPoint, cached) || seqGt(cached, current)) {
      const min = minimumSequence(this.gating, current);
      this.cachedGating = min;
      if (seqGt(wrapPoint, min)) return false;
    }
    return true;
  }

  remainingCapacity(): number {
    const produced = this.cursor.get();
    return this.freeSlots(minimumSequence(this.gating, produced), produced);
  }

  publish(sequence: number): void {
    Atomics.store(this.available, sequence & this.mask, sequence >> this.shift);
    this.waitStrategy.signal(this.cursor.signal);
  }

  publishRange(lo: number, hi: number): void {
    for (let s = lo; seqLe(s, hi); s = seqAdd(s, 1)) {
      Atomics.store(this.available, s & this.mask, s >> this.shift);
    }
    this.waitStrategy.signal(this.cursor.signal);
  }

  isAvailable(sequence: number): boolean {
    return Atomics.load(this.available, sequence & this.mask) === sequence >> this.shift;
  }

  getHighestPublishedSequence(lo: number, available: number): number {
    for (let s = lo; seqLe(s, available); s = seqAdd(s, 1)) {
      if (Atomics.load(this.available, s & this.mask) !== s >> this.shift) return seqAdd(s, -1);
    }
    return available;
  }

  protected describeExtra(): Partial<SequencerDescriptor> {
    return { available: this.available.buffer as SharedArrayBuffer };
  }
}
