import { SignalWord } from './signal-word';

/**
 * Sequences: int32 counters that survive wrap-around.
 *
 * We use int32 rather than BigInt64 because `Atomics.wait`/`notify` need an Int32Array or a
 * BigInt64Array, and BigInt64 reads allocate a bigint on every access. An int32 sequence wraps
 * after 2^31 events, so every ordering test goes through the wrap-safe helpers below, which are
 * correct as long as the values compared are less than 2^31 apart. In a ring of at most 2^30
 * slots they always are.
 */

/** The value every sequence starts at unless a caller picks another one (tests start near the wrap). */
export const INITIAL_SEQUENCE = -1;

/** Wrap-safe `a < b`. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Wrap-safe `a <= b`. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** Wrap-safe `a > b`. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** Wrap-safe `a >= b`. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** Wrap-safe `a + n`, kept in int32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) | 0;
}

/** Wrap-safe distance `b - a` (how many steps from a to b). */
export function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}

// The value lives at byte 64 of the buffer, so the 64 bytes on either side belong to this sequence
// alone whatever the allocator's alignment: no other hot counter can share its line. The futex
// words that waiters sleep on follow, each on a line of its own, so sleeping and signalling never
// disturb the line the value is read from.
const INDEX = 16;
const GEN = 32;
const WAITERS = 48;
const BYTES = 64 * 4 + 64;

/**
 * A counter in shared memory, padded to its own cache line. Reads are `Atomics.load` (acquire) and
 * writes `Atomics.store` (release), so plain writes to ring records made before a `set` are visible
 * to any thread that reads the new value.
 *
 * @example
 * const s = new Sequence();
 * s.set(41); s.incrementAndGet(); // 42
 * const same = Sequence.attach(s.sab); // on another thread, from a postMessage'd SAB
 */
export class Sequence {
  /** The shared buffer behind this sequence; post it to a worker and `attach` there. */
  readonly sab: SharedArrayBuffer;
  /** What threads waiting for this sequence to move sleep on. */
  readonly signal: SignalWord;
  private readonly cell: Int32Array;

  constructor(initial: number = INITIAL_SEQUENCE, sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(BYTES);
    this.cell = new Int32Array(this.sab);
    this.signal = new SignalWord(this.cell, GEN, WAITERS);
    if (!sab) Atomics.store(this.cell, INDEX, initial | 0);
  }

  /** A view of an existing shared sequence (typically on another thread). Its value is unchanged. */
  static attach(sab: SharedArrayBuffer): Sequence {
    return new Sequence(0, sab);
  }

  get(): number {
    return Atomics.load(this.cell, INDEX);
  }

  set(value: number): void {
    Atomics.store(this.cell, INDEX, value | 0);
  }

  compareAndSet(expected: number, value: number): boolean {
    return Atomics.compareExchange(this.cell, INDEX, expected | 0, value | 0) === (expected | 0);
  }

  incrementAndGet(): number {
    return (Atomics.add(this.cell, INDEX, 1) + 1) | 0;
  }

  /** Adds `n` and returns the new value. */
  addAndGet(n: number): number {
    return (Atomics.add(this.cell, INDEX, n | 0) + n) | 0;
  }

  /** Adds `n` and returns the value before the add. */
  getAndAdd(n: number): number {
    return Atomics.add(this.cell, INDEX, n | 0);
  }

  toString(): string {
    return String(this.get());
  }
}

/** Anything a barrier or sequencer can read a position from: one sequence or a group's minimum. */
export interface SequenceReader {
  get(): number;
}
