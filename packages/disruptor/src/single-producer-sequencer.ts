import { InsufficientCapacityError } from './errors';
import { AbstractSequencer, type SequencerDescriptor } from './sequencer';
import { INITIAL_SEQUENCE, seqAdd, seqGt, seqLe } from './sequence';
import { minimumSequence } from './sequence-group';
import type { WaitStrategy } from './wait-strategies/wait-strategy';

/**
 * A sequencer for exactly one producing thread. Claims need no atomic read-modify-write at all:
 * the next value and the last known minimum of the consumers are plain fields, and the real
 * minimum is read only when a claim would wrap past the cached one.
 *
 * @example
 * const seq = new SingleProducerSequencer(1024, new BlockingWaitStrategy());
 * const s = seq.next(); ring.at(s).value = 42; seq.publish(s);
 */
export class SingleProducerSequencer extends AbstractSequencer {
  protected readonly type = 'single' as const;
  private nextValue: number;
  private cachedGating: number;

  constructor(
    bufferSize: number,
    waitStrategy: WaitStrategy,
    initial: number = INITIAL_SEQUENCE,
    shared?: { cursor: SharedArrayBuffer; state: SharedArrayBuffer; gating: SharedArrayBuffer[] },
  ) {
    super(bufferSize, waitStrategy, initial, shared);
    this.nextValue = this.cursor.get();
    // Seeded from the real minimum: a thread that attaches late must not assume the consumers
    // have caught up with the cursor.
    this.cachedGating = minimumSequence(this.gating, this.cursor.get());
  }

  /** Re-attaches on another thread, which then becomes the single producer. */
  static attach(d: SequencerDescriptor, waitStrategy: WaitStrategy): SingleProducerSequencer {
    return new SingleProducerSequencer(d.bufferSize, waitStrategy, 0, d);
  }

  next(n = 1): number {
    if (n !== 1) this.checkClaimSize(n);
    // No halted check here: a halted pipeline stops consuming, so a producer meets the halt
    // (in awaitGating) within one ring's worth of claims, and the common path stays cheap.
    const nextValue = this.nextValue;
    const nextSequence = seqAdd(nextValue, n);
    const wrapPoint = seqAdd(nextSequence, -this.bufferSize);
    const cached = this.cachedGating;
    if (seqGt(wrapPoint, cached) || seqGt(cached, nextValue)) {
      this.cachedGating = this.awaitGating(wrapPoint, nextValue);
    }
    this.nextValue = nextSequence;
    return nextSequence;
  }

  tryNext(n = 1): number {
    this.checkClaimSize(n);
    this.checkHalted();
    if (!this.hasCapacity(n, true)) throw new InsufficientCapacityError();
    this.nextValue = seqAdd(this.nextValue, n);
    return this.nextValue;
  }

  protected hasCapacityNow(n: number): boolean {
    return this.hasCapacity(n, false);
  }

  private hasCapacity(n: number, updateCache: boolean): boolean {
    const nextValue = this.nextValue;
    const wrapPoint = seqAdd(nextValue, n - this.bufferSize);
    const cached = this.cachedGating;
    if (seqGt(wrapPoint, cached) || seqGt(cached, nextValue)) {
      const min = minimumSequence(this.gating, nextValue);
      if (updateCache) this.cachedGating = min;
      if (seqGt(wrapPoint, min)) return false;
    }
    return true;
  }

  remainingCapacity(): number {
    return this.freeSlots(minimumSequence(this.gating, this.nextValue), this.nextValue);
  }

  publish(sequence: number): void {
    this.cursor.set(sequence);
    this.waitStrategy.signal(this.cursor.signal);
  }

  publishRange(_lo: number, hi: number): void {
    this.publish(hi);
  }

  isAvailable(sequence: number): boolean {
    const current = this.cursor.get();
    return seqLe(sequence, current) && seqGt(sequence, seqAdd(current, -this.bufferSize));
  }

  getHighestPublishedSequence(_lo: number, available: number): number {
    return available;
  }

  protected describeExtra(): Partial<SequencerDescriptor> {
    return {};
  }
}
