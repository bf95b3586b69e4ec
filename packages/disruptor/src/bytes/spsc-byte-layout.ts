/**
 * The shared layout of an SPSC byte ring, used by both ends.
 *
 * Control words (int32). Each word written by one side sits on a 64-byte line of its own (index
 * steps of 16), so the writer's head and the reader's tail never share a line:
 *   HEAD            bytes published by the writer (a free-running int32 position)
 *   TAIL            bytes released by the reader
 *   READER_WAITING  1 while the reader sleeps on this word; the writer clears it and notifies
 *   WRITER_NEED     free bytes the sleeping writer waits for (0 when not waiting); the reader
 *                   clears it and notifies once that much space is free
 *   CLOSED          1 once the writer has finished; CLOSE_STATUS holds its code
 *   CANCELLED       1 once the reader has given up; the writer's next write fails
 *
 * The data region holds frames: an int32 length header followed by the payload, padded to 4
 * bytes so every header is an aligned int32. A frame never wraps. When a frame does not fit
 * before the end, the writer puts the SKIP marker in the header slot and starts again at 0.
 * Positions run freely and wrap at 2^32; since the capacity is a power of two no larger than
 * 2^30, `position & mask` is the offset and `(head - tail) | 0` the bytes in flight.
 */
export const HEAD = 0;
export const TAIL = 16;
export const READER_WAITING = 32;
export const WRITER_NEED = 48;
export const CLOSED = 64;
export const CLOSE_STATUS = 65;
export const CANCELLED = 80;
export const MAGIC_WORD = 96;
export const CAPACITY_WORD = 97;
export const WRITER_ATTACHED = 98;
export const READER_ATTACHED = 99;
export const CONTROL_WORDS = 112;
export const CONTROL_BYTES = CONTROL_WORDS * 4;

export const MAGIC = 0x53425272; // "SBRr"
export const FRAME_HEADER = 4;
/** Header value meaning "nothing more before the end of the ring; continue at offset 0". */
export const SKIP = -1;

export const MIN_CAPACITY = 16;
export const MAX_CAPACITY = 1 << 30;

/** Frame size of a payload of `length` bytes: header plus payload, rounded up to 4 bytes. */
export function frameSize(length: number): number {
  return (FRAME_HEADER + length + 3) & ~3;
}

/** The views both ends need over a ring's shared memory. */
export interface RingViews {
  control: Int32Array;
  /** The data region as bytes. */
  data: Uint8Array;
  /** The data region as int32s, for frame headers (byte offset / 4). */
  headers: Int32Array;
  capacity: number;
}

/** Builds the views over an existing ring buffer, checking that it is one. */
export function viewsOf(sab: SharedArrayBuffer): RingViews | undefined {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < CONTROL_BYTES + MIN_CAPACITY) return undefined;
  const control = new Int32Array(sab, 0, CONTROL_WORDS);
  if (Atomics.load(control, MAGIC_WORD) !== MAGIC) return undefined;
  const capacity = Atomics.load(control, CAPACITY_WORD);
  return {
    control,
    data: new Uint8Array(sab, CONTROL_BYTES, capacity),
    headers: new Int32Array(sab, CONTROL_BYTES, capacity >>> 2),
    capacity,
  };
}
