/**
 * A lock-free occupancy bitmap over fixed-size blocks, shared between threads: bit `b` of the
 * bitmap is set while block `b` belongs to a live allocation.
 *
 * Claims use compare-and-swap on whole 32-bit words, so no thread ever holds a lock: a thread
 * descheduled in the middle of a claim delays nobody. A run of several blocks is claimed word by
 * word, lowest first; when a word turns out to be taken (another thread won the race), the words
 * already claimed are given back and the search moves past the conflict. Every search visits the
 * bitmap at most once, so a full arena answers "no" in bounded time and never spins.
 *
 * The price of giving back: a concurrent search may skip blocks that were held only for that
 * instant and report failure although a retry would succeed. Callers treat failure as "full right
 * now", which is the right answer under that much contention anyway.
 *
 * @example
 * const bits = new BlockBitmap(new Int32Array(new SharedArrayBuffer(BlockBitmap.wordsFor(100) * 4)), 100);
 * bits.reserveTail();
 * const start = bits.claimRun(3, 0); // 0: blocks 0..2 are now ours
 * bits.release(start, 3);
 */
export class BlockBitmap {
  /** How many int32 words a bitmap of `blockCount` blocks needs. */
  static wordsFor(blockCount: number): number {
    return (blockCount + 31) >>> 5;
  }

  private readonly words: Int32Array;
  private readonly blockCount: number;
  private readonly wordCount: number;

  /** `words` must be a view over shared memory with at least `wordsFor(blockCount)` elements. */
  constructor(words: Int32Array, blockCount: number) {
    this.words = words;
    this.blockCount = blockCount;
    this.wordCount = BlockBitmap.wordsFor(blockCount);
  }

  /**
   * Marks the bits past the last block as permanently taken, so searches need no bounds special
   * case for the final word. Call once, when the shared memory is created.
   */
  reserveTail(): void {
    const used = this.blockCount & 31;
    if (used !== 0) Atomics.or(this.words, this.wordCount - 1, ~bitRange(0, used));
  }

  /** Claims one free block, searching from `hint` onwards (wrapping once). Returns it, or -1. */
  claimOne(hint: number): number {
    const words = this.words;
    const count = this.wordCount;
    let w = (hint >>> 5) % count;
    for (let visited = 0; visited < count; visited++) {
      let cur = Atomics.load(words, w);
      while (cur !== -1) {
        const lowestClear = ~cur & (cur + 1);
        const seen = Atomics.compareExchange(words, w, cur, cur | lowestClear);
        if (seen === cur) return (w << 5) + 31 - Math.clz32(lowestClear);
        cur = seen;
      }
      w = w + 1 === count ? 0 : w + 1;
    }
    return -1;
  }

  /**
   * Claims `n` contiguous free blocks, searching from `hint` to the end and then from the start
   * (a run never wraps: it must be contiguous memory). Returns the first block, or -1.
   */
  claimRun(n: number, hint: number): number {
    if (n === 1) return this.claimOne(hint);
    const from = hint > 0 && hint < this.blockCount ? hint : 0;
    const first = this.searchAndClaim(n, from, this.blockCount);
    if (first >= 0 || from === 0) return first;
    // Runs that start before the hint may reach past it by up to n - 1 blocks.
    return this.searchAndClaim(n, 0, Math.min(this.blockCount, from + n - 1));
  }

  /** Gives blocks `start .. start + n - 1` back. They must have been claimed by this bitmap. */
  release(start: number, n: number): void {
    const end = start + n;
    let b = start;
    while (b < end) {
      const w = b >>> 5;
      const lo = b & 31;
      const hi = Math.min(32, lo + (end - b));
      Atomics.and(this.words, w, ~bitRange(lo, hi));
      b = (w << 5) + hi;
    }
  }

  /** Whether block `b` is currently claimed (a snapshot; for stats and tests). */
  isClaimed(b: number): boolean {
    return (Atomics.load(this.words, b >>> 5) & (1 << (b & 31))) !== 0;
  }

  /** Finds a run of `n` clear bits lying wholly inside `[from, to)` and claims it. */
  private searchAndClaim(n: number, from: number, to: number): number {
    const words = this.words;
    let runStart = from;
    let b = from;
    while (to - runStart >= n) {
      const w = b >>> 5;
      // Looking at the rest of the word at once makes clear and full stretches cheap to cross.
      const taken = Atomics.load(words, w) & bitRange(b & 31, 32);
      const clearUntil = taken === 0 ? (w + 1) << 5 : (w << 5) + lowestBit(taken);
      if (clearUntil - runStart >= n) {
        const conflict = this.claimRange(runStart, n);
        if (conflict < 0) return runStart;
        runStart = b = conflict + 1;
      } else if (taken === 0) {
        b = clearUntil;
      } else {
        runStart = b = clearUntil + 1;
      }
    }
    return -1;
  }

  /**
   * Sets the bits of `[start, start + n)` word by word. Returns -1 on success; on a conflict, undoes
   * what it set and returns the first block found taken.
   */
  private claimRange(start: number, n: number): number {
    const words = this.words;
    const end = start + n;
    let b = start;
    while (b < end) {
      const w = b >>> 5;
      const lo = b & 31;
      const hi = Math.min(32, lo + (end - b));
      const mask = bitRange(lo, hi);
      let cur = Atomics.load(words, w);
      for (;;) {
        const taken = cur & mask;
        if (taken !== 0) {
          if (b > start) this.release(start, b - start);
          return (w << 5) + lowestBit(taken);
        }
        const seen = Atomics.compareExchange(words, w, cur, cur | mask);
        if (seen === cur) break;
        cur = seen;
      }
      b = (w << 5) + hi;
    }
    return -1;
  }
}

/** The int32 mask with bits `lo .. hi - 1` set (0 <= lo < hi <= 32). */
function bitRange(lo: number, hi: number): number {
  const width = hi - lo;
  return width === 32 ? -1 : ((1 << width) - 1) << lo;
}

/** Index of the lowest set bit of a non-zero int32. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}
