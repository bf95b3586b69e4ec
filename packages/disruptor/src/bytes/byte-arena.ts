import { ArenaFullError, IllegalStateError, InvalidArgumentError, PayloadTooLargeError } from '../errors';
import { BlockBitmap } from './block-bitmap';

/** What `tryAlloc` returns when no free run is long enough right now. */
export const ARENA_FULL = -1;

/** Sizing of a new arena. */
export interface ByteArenaOptions {
  /** Payload bytes the arena holds; rounded up to whole blocks. At most 1 GiB. */
  capacity: number;
  /**
   * Allocation granule in bytes: a power of two from 8 to 1 MiB (default 256). Small blocks waste
   * less on small bodies; large ones keep the bitmap short. A payload takes a contiguous run.
   */
  blockSize?: number;
}

/** A snapshot of an arena's occupancy and counters, for metrics. */
export interface ByteArenaStats {
  /** Payload capacity in bytes (`blockCount * blockSize`). */
  capacityBytes: number;
  blockSize: number;
  blockCount: number;
  /** Blocks held by live allocations. */
  usedBlocks: number;
  /** Bytes held by live allocations, counted in whole blocks. */
  usedBytes: number;
  /** Bytes actually requested by live allocations (`usedBytes` minus rounding). */
  payloadBytes: number;
  liveAllocations: number;
  /** Successful allocations since creation (uint32, wraps at 2^32). */
  allocations: number;
  /** Allocations refused because no run was free (uint32, wraps at 2^32). */
  allocationsFailed: number;
  /** Frees since creation (uint32, wraps at 2^32). */
  frees: number;
}

// Shared header, in int32 words. Counters written by the allocating thread and by the freeing
// thread sit on separate 64-byte lines, so the two sides do not bounce one line between cores.
const MAGIC = 0x42417265; // "BAre"
const H_MAGIC = 0;
const H_BLOCK_SIZE = 1;
const H_BLOCK_COUNT = 2;
const H_ALLOCATIONS = 16;
const H_FAILED = 17;
const H_FREES = 32;
const H_USED_BLOCKS = 48;
const H_PAYLOAD_BYTES = 49;
const H_LIVE = 50;
const HEADER_WORDS = 64;

const MAX_CAPACITY = 1 << 30;
const DEFAULT_BLOCK_SIZE = 256;

/**
 * A fixed-capacity byte arena in a SharedArrayBuffer. A producer copies a payload in once; any
 * thread holding the same buffer reads it in place through a `Uint8Array` view, without a copy.
 *
 * An allocation is a contiguous run of blocks, identified by its byte offset (an int32). The
 * caller keeps the length next to it, typically in two int32 fields of a ring record (see
 * `ArenaRef`). Allocation and free are lock-free and may happen on different threads: the front
 * allocates on the main thread, a worker frees after it has parsed the body. When no run is free,
 * `tryAlloc` returns `ARENA_FULL` and `alloc` throws `ArenaFullError`: shed load, never wait.
 *
 * Data written into an allocation is visible to another thread once that thread has learnt the
 * offset through an Atomics-published channel (a ring sequence, a byte ring, `postMessage`).
 *
 * @example
 * const arena = new ByteArena({ capacity: 16 << 20 });
 * const off = arena.tryAllocCopy(body);          // ARENA_FULL -> reply 503
 * worker.postMessage(arena.sab);                 // once, at start-up
 * // on the worker:
 * const same = ByteArena.attach(sab);
 * JSON.parse(decoder.decode(same.view(off, len)));
 * same.free(off);
 */
export class ByteArena {
  /** The shared memory; post it to another thread and call `ByteArena.attach` there. */
  readonly sab: SharedArrayBuffer;
  /** The payload region. Allocations are `bytes.subarray(offset, offset + length)`. */
  readonly bytes: Uint8Array;
  readonly blockSize: number;
  readonly blockCount: number;
  /** `blockCount * blockSize`. */
  readonly capacity: number;

  private readonly header: Int32Array;
  private readonly bitmap: BlockBitmap;
  /** Per start block: the run length in blocks while allocated, else 0. */
  private readonly runs: Int32Array;
  /** Per start block: the requested byte length. */
  private readonly lengths: Int32Array;
  private readonly shift: number;

  constructor(options: ByteArenaOptions);
  /** @internal Used by `attach`. */
  constructor(options: ByteArenaOptions, sab: SharedArrayBuffer);
  constructor(options: ByteArenaOptions, sab?: SharedArrayBuffer) {
    const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isInteger(blockSize) || blockSize < 8 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) {
      throw new InvalidArgumentError(`arena blockSize must be a power of two from 8 to 1 MiB, got ${blockSize}`);
    }
    if (!Number.isInteger(options.capacity) || options.capacity < 1 || options.capacity > MAX_CAPACITY) {
      throw new InvalidArgumentError(`arena capacity must be an integer from 1 to ${MAX_CAPACITY}, got ${options.capacity}`);
    }
    const blockCount = Math.ceil(options.capacity / blockSize);
    const layout = layoutFor(blockCount);
    const bytesNeeded = layout.totalBytes + blockCount * blockSize;
    if (sab && sab.byteLength < bytesNeeded) {
      throw new InvalidArgumentError(`a SharedArrayBuffer of ${sab.byteLength} bytes cannot hold this arena (${bytesNeeded} needed)`);
    }
    this.sab = sab ?? new SharedArrayBuffer(bytesNeeded);
    this.blockSize = blockSize;
    this.blockCount = blockCount;
    this.capacity = blockCount * blockSize;
    this.shift = 31 - Math.clz32(blockSize);
    this.header = new Int32Array(this.sab, 0, HEADER_WORDS);
    const bitmapWords = new Int32Array(this.sab, layout.bitmapByte, BlockBitmap.wordsFor(blockCount));
    this.bitmap = new BlockBitmap(bitmapWords, blockCount);
    this.runs = new Int32Array(this.sab, layout.runsByte, blockCount);
    this.lengths = new Int32Array(this.sab, layout.lengthsByte, blockCount);
    this.bytes = new Uint8Array(this.sab, layout.totalBytes, this.capacity);
    if (!sab) {
      this.bitmap.reserveTail();
      Atomics.store(this.header, H_BLOCK_SIZE, blockSize);
      Atomics.store(this.header, H_BLOCK_COUNT, blockCount);
      Atomics.store(this.header, H_MAGIC, MAGIC);
    }
  }

  /**
   * An arena over shared memory created by `new ByteArena` on another thread. Views from the two
   * instances alias the same bytes.
   *
   * @example
   * const arena = ByteArena.attach(workerData.arena);
   */
  static attach(sab: SharedArrayBuffer): ByteArena {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < HEADER_WORDS * 4) {
      throw new InvalidArgumentError('ByteArena.attach needs the SharedArrayBuffer of an arena');
    }
    const header = new Int32Array(sab, 0, HEADER_WORDS);
    if (Atomics.load(header, H_MAGIC) !== MAGIC) {
      throw new InvalidArgumentError('this SharedArrayBuffer does not hold a ByteArena');
    }
    const blockSize = Atomics.load(header, H_BLOCK_SIZE);
    const blockCount = Atomics.load(header, H_BLOCK_COUNT);
    return new ByteArena({ capacity: blockSize * blockCount, blockSize }, sab);
  }

  /**
   * Reserves `length` bytes (0 is allowed and takes one block). Returns the allocation's byte
   * offset, or `ARENA_FULL` when no run is free now. Throws `PayloadTooLargeError` when `length`
   * exceeds the whole capacity, because waiting could never help.
   *
   * @example
   * const off = arena.tryAlloc(n);
   * if (off === ARENA_FULL) return reply503();
   */
  tryAlloc(length: number): number {
    const blocks = this.blocksFor(length);
    // First fit, from block 0: the pages in use stay those the arena's peak use needs. A next-fit
    // cursor swept the whole reservation, writing pages never touched before, which then stayed
    // resident (a 10-minute soak: the gateway's RSS +12.6 %, all of it arena pages). Full words of
    // the bitmap are crossed one compare each, so the search costs little.
    const start = this.bitmap.claimRun(blocks, 0);
    if (start < 0) {
      Atomics.add(this.header, H_FAILED, 1);
      return ARENA_FULL;
    }
    Atomics.store(this.lengths, start, length);
    Atomics.store(this.runs, start, blocks);
    Atomics.add(this.header, H_ALLOCATIONS, 1);
    Atomics.add(this.header, H_USED_BLOCKS, blocks);
    Atomics.add(this.header, H_PAYLOAD_BYTES, length);
    Atomics.add(this.header, H_LIVE, 1);
    return start << this.shift;
  }

  /**
   * Like `tryAlloc`, but throws `ArenaFullError` instead of returning `ARENA_FULL`.
   *
   * @example
   * const off = arena.alloc(64);
   */
  alloc(length: number): number {
    const offset = this.tryAlloc(length);
    if (offset === ARENA_FULL) {
      throw new ArenaFullError(`byte arena has no free run of ${length} bytes (capacity ${this.capacity})`);
    }
    return offset;
  }

  /**
   * Allocates `source.length` bytes and copies `source` in: the one copy on a payload's way in.
   * Returns the offset or `ARENA_FULL`.
   *
   * @example
   * const off = arena.tryAllocCopy(Buffer.concat(chunks));
   */
  tryAllocCopy(source: Uint8Array): number {
    const offset = this.tryAlloc(source.length);
    if (offset !== ARENA_FULL) this.bytes.set(source, offset);
    return offset;
  }

  /**
   * A view of an allocation's bytes, aliasing shared memory (no copy). `length` defaults to the
   * length it was allocated with. The view must not be used after `free`.
   *
   * @example
   * const body = arena.view(off, len); // Uint8Array over the arena
   */
  view(offset: number, length: number = this.lengthOf(offset)): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }

  /**
   * Copies `source` into the allocation at `offset`, starting `at` bytes in. Throws
   * `InvalidArgumentError` if it would run past the allocated length.
   *
   * @example
   * arena.write(off, chunk, received); received += chunk.length;
   */
  write(offset: number, source: Uint8Array, at = 0): void {
    const length = this.lengthOf(offset);
    if (at < 0 || at + source.length > length) {
      throw new InvalidArgumentError(`write of ${source.length} bytes at ${at} overflows an allocation of ${length}`);
    }
    this.bytes.set(source, offset + at);
  }

  /**
   * The length an allocation was made with. Throws `IllegalStateError` if `offset` is not live.
   *
   * @example
   * arena.lengthOf(arena.alloc(10)); // 10
   */
  lengthOf(offset: number): number {
    const block = this.startBlock(offset);
    if (Atomics.load(this.runs, block) === 0) {
      throw new IllegalStateError(`arena offset ${offset} is not a live allocation`);
    }
    return Atomics.load(this.lengths, block);
  }

  /**
   * Returns an allocation's blocks to the arena. Any thread may free what any thread allocated,
   * once. Freeing an offset that is not live throws `IllegalStateError`; note that a stale offset
   * whose blocks were allocated again cannot be told apart from the new owner's.
   *
   * @example
   * arena.free(off);
   */
  free(offset: number): void {
    const block = this.startBlock(offset);
    // The exchange makes two racing frees of one allocation detectable: only one sees the run.
    const blocks = Atomics.exchange(this.runs, block, 0);
    if (blocks === 0) throw new IllegalStateError(`arena offset ${offset} is not a live allocation (double free?)`);
    const length = Atomics.load(this.lengths, block);
    Atomics.add(this.header, H_FREES, 1);
    Atomics.sub(this.header, H_USED_BLOCKS, blocks);
    Atomics.sub(this.header, H_PAYLOAD_BYTES, length);
    Atomics.sub(this.header, H_LIVE, 1);
    // Last, so a thread that claims these blocks next sees the metadata already cleared.
    this.bitmap.release(block, blocks);
  }

  /**
   * Occupancy and counters, read from shared memory (allocates the result object).
   *
   * @example
   * gauge.set(arena.stats().usedBytes);
   */
  stats(): ByteArenaStats {
    const h = this.header;
    const usedBlocks = Atomics.load(h, H_USED_BLOCKS);
    return {
      capacityBytes: this.capacity,
      blockSize: this.blockSize,
      blockCount: this.blockCount,
      usedBlocks,
      usedBytes: usedBlocks * this.blockSize,
      payloadBytes: Atomics.load(h, H_PAYLOAD_BYTES),
      liveAllocations: Atomics.load(h, H_LIVE),
      allocations: Atomics.load(h, H_ALLOCATIONS) >>> 0,
      allocationsFailed: Atomics.load(h, H_FAILED) >>> 0,
      frees: Atomics.load(h, H_FREES) >>> 0,
    };
  }

  private blocksFor(length: number): number {
    if (!Number.isInteger(length) || length < 0) {
      throw new InvalidArgumentError(`allocation length must be a non-negative integer, got ${length}`);
    }
    if (length > this.capacity) {
      throw new PayloadTooLargeError(`${length} bytes exceed the arena's capacity of ${this.capacity}`);
    }
    return length === 0 ? 1 : (length + this.blockSize - 1) >>> this.shift;
  }

  private startBlock(offset: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.capacity || (offset & (this.blockSize - 1)) !== 0) {
      throw new IllegalStateError(`${offset} is not an offset this arena handed out`);
    }
    return offset >>> this.shift;
  }
}

/** Byte positions of the shared regions; the payload starts on a 64-byte line after them. */
function layoutFor(blockCount: number): { bitmapByte: number; runsByte: number; lengthsByte: number; totalBytes: number } {
  const bitmapByte = HEADER_WORDS * 4;
  const runsByte = alignTo64(bitmapByte + BlockBitmap.wordsFor(blockCount) * 4);
  const lengthsByte = alignTo64(runsByte + blockCount * 4);
  const totalBytes = alignTo64(lengthsByte + blockCount * 4);
  return { bitmapByte, runsByte, lengthsByte, totalBytes };
}

function alignTo64(n: number): number {
  return (n + 63) & ~63;
}
