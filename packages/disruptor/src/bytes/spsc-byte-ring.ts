import { InvalidArgumentError } from '../errors';
import { CAPACITY_WORD, CONTROL_BYTES, CONTROL_WORDS, HEAD, MAGIC, MAGIC_WORD, MAX_CAPACITY, MIN_CAPACITY, TAIL } from './spsc-byte-layout';

export { SpscByteWriter, type SpscByteWriterStats } from './spsc-byte-writer';
export { SpscByteReader, NO_MESSAGE, END_OF_STREAM, type ReadableState, type ByteMessageHandler } from './spsc-byte-reader';

/** Options of `createSpscByteRing`. */
export interface SpscByteRingOptions {
  /**
   * Where the free-running byte positions start (a multiple of 4; default 0). Only tests need it:
   * starting near 2^31 or near the end of the buffer exercises wrap-around at once.
   */
  initialPosition?: number;
}

/**
 * Creates the shared memory of a single-producer, single-consumer byte ring with `capacity`
 * payload bytes (a power of two from 16 to 1 GiB). Post it to the other thread; each side then
 * attaches its end: `SpscByteWriter.attach(sab)` on the producing thread, `SpscByteReader.attach(sab)`
 * on the consuming one. The capacity is the writer's total credit: at most that many bytes (frame
 * headers and padding included) are ever written and not yet released.
 *
 * @example
 * const sab = createSpscByteRing(1 << 20);
 * const worker = new Worker(entry, { workerData: { ring: sab } }); // worker: SpscByteWriter.attach(ring)
 * const reader = SpscByteReader.attach(sab);
 */
export function createSpscByteRing(capacity: number, options: SpscByteRingOptions = {}): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new InvalidArgumentError(`SPSC byte ring capacity must be a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY}, got ${capacity}`);
  }
  const start = options.initialPosition ?? 0;
  if (!Number.isInteger(start) || (start | 0) !== start || (start & 3) !== 0) {
    throw new InvalidArgumentError(`initialPosition must be an int32 multiple of 4, got ${start}`);
  }
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacity);
  const control = new Int32Array(sab, 0, CONTROL_WORDS);
  Atomics.store(control, HEAD, start);
  Atomics.store(control, TAIL, start);
  Atomics.store(control, CAPACITY_WORD, capacity);
  Atomics.store(control, MAGIC_WORD, MAGIC);
  return sab;
}
