import { IllegalStateError, InvalidArgumentError, PayloadTooLargeError, StreamClosedError } from '../errors';
import { CANCELLED, CLOSE_STATUS, CLOSED, FRAME_HEADER, HEAD, READER_WAITING, SKIP, TAIL, WRITER_ATTACHED, WRITER_NEED, frameSize, viewsOf } from './spsc-byte-layout';
import { waitAsyncKeepingAlive } from './wait-async';

const DONE: Promise<void> = Promise.resolve();

/** Counters kept by the writer itself (not shared), for metrics and tests. */
export interface SpscByteWriterStats {
  messages: number;
  /** Payload bytes written (frame headers and padding not counted). */
  bytes: number;
  /** Times a write found too little space: each is a moment the reader held the writer back. */
  stalls: number;
}

/**
 * The producing end of an SPSC byte ring: it frames variable-length messages into shared memory
 * for exactly one reader, usually on the main thread.
 *
 * Flow control is by credit: the writer may only use space the reader has released, so a slow
 * reader (a slow client socket) stops a fast writer instead of being overrun. `tryWrite` returns
 * false when the message does not fit now; `write` waits asynchronously for space and `writeSync`
 * blocks (worker threads only). Publishing a message is one atomic store; the reader is notified
 * only when it has flagged that it sleeps, so a burst costs at most one wake-up.
 *
 * @example
 * // worker thread
 * const writer = SpscByteWriter.attach(workerData.ring);
 * for await (const chunk of upstream.body) await writer.write(chunk);
 * writer.close();
 */
export class SpscByteWriter {
  /** The ring's payload capacity in bytes. */
  readonly capacity: number;
  /** The largest message that can ever be written (`capacity - 4`). */
  readonly maxMessageLength: number;
  /**
   * The data region. `tryReserve` hands out offsets into it, so a caller can build a message in
   * place instead of copying it in.
   */
  readonly data: Uint8Array;

  private readonly control: Int32Array;
  private readonly headers: Int32Array;
  private readonly mask: number;
  private head: number;
  /** Last tail seen; re-read only when the space it implies is not enough. */
  private tail: number;
  /** Free bytes to wait for after a failed attempt. */
  private need = 0;
  /** Frame size of the reserved, uncommitted message (0 if none). */
  private reserved = 0;
  private closed = false;
  private messages = 0;
  private bytes = 0;
  private stalls = 0;

  private constructor(sab: SharedArrayBuffer) {
    const views = viewsOf(sab);
    if (!views) throw new InvalidArgumentError('this SharedArrayBuffer does not hold an SPSC byte ring');
    if (Atomics.compareExchange(views.control, WRITER_ATTACHED, 0, 1) !== 0) {
      throw new IllegalStateError('an SPSC byte ring has exactly one writer, and one is already attached');
    }
    this.control = views.control;
    this.data = views.data;
    this.headers = views.headers;
    this.capacity = views.capacity;
    this.maxMessageLength = views.capacity - FRAME_HEADER;
    this.mask = views.capacity - 1;
    this.head = Atomics.load(this.control, HEAD);
    this.tail = Atomics.load(this.control, TAIL);
  }

  /**
   * Becomes the ring's one writer. Throws `IllegalStateError` if a writer is already attached.
   *
   * @example
   * const writer = SpscByteWriter.attach(createSpscByteRing(1 << 16));
   */
  static attach(sab: SharedArrayBuffer): SpscByteWriter {
    return new SpscByteWriter(sab);
  }

  /** True once the reader has cancelled: further writes throw `StreamClosedError`. */
  get cancelled(): boolean {
    return Atomics.load(this.control, CANCELLED) !== 0;
  }

  /**
   * Writes one message if it fits now. Returns false when the reader has not released enough
   * space; the message is then not written. Throws `StreamClosedError` after the reader
   * cancelled or this writer closed, and `PayloadTooLargeError` if it could never fit.
   *
   * @example
   * if (!writer.tryWrite(chunk)) await writer.write(chunk);
   */
  tryWrite(message: Uint8Array): boolean {
    const offset = this.tryReserve(message.length);
    if (offset < 0) return false;
    this.data.set(message, offset);
    this.commit();
    return true;
  }

  /**
   * Reserves room for a message of `length` bytes and returns its offset in `data`, or -1 when
   * there is no room now. Fill `data[offset .. offset + length)` and call `commit()`. Nothing is
   * visible to the reader before the commit.
   *
   * @example
   * const at = writer.tryReserve(1 + chunk.length); // a kind byte, then the chunk, with no staging copy
   * if (at >= 0) { writer.data[at] = KIND_CHUNK; writer.data.set(chunk, at + 1); writer.commit(); }
   */
  tryReserve(length: number): number {
    this.checkWritable(length);
    const frame = frameSize(length);
    let position = this.head & this.mask;
    const room = this.capacity - position;
    if (room < frame) {
      // The frame cannot straddle the end. The rest of the lap is dead space, so skip it as soon
      // as it is free, even if the frame itself must wait: the reader then returns it as credit.
      if (!this.hasSpace(room)) return this.stall(room + frame <= this.capacity ? room + frame : room);
      this.headers[position >>> 2] = SKIP;
      this.head = (this.head + room) | 0;
      position = 0;
      if (!this.hasSpace(frame)) {
        this.publish();
        return this.stall(frame);
      }
    } else if (!this.hasSpace(frame)) {
      return this.stall(frame);
    }
    this.headers[position >>> 2] = length;
    this.reserved = frame;
    this.need = 0;
    return position + FRAME_HEADER;
  }

  /** Publishes the message reserved by `tryReserve`. */
  commit(): void {
    if (this.reserved === 0) throw new IllegalStateError('commit() without a successful tryReserve()');
    const length = this.headers[(this.head & this.mask) >>> 2];
    this.head = (this.head + this.reserved) | 0;
    this.reserved = 0;
    this.messages++;
    this.bytes += length;
    this.publish();
  }

  /**
   * Writes one message, waiting without blocking the thread (`Atomics.waitAsync`) while the ring
   * is full. Rejects with `StreamClosedError` if the reader cancels meanwhile.
   *
   * @example
   * await writer.write(encoder.encode(line));
   */
  write(message: Uint8Array): Promise<void> {
    // The common case (room available) costs no promise of its own.
    try {
      return this.tryWrite(message) ? DONE : this.writeWhenRoom(message);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async writeWhenRoom(message: Uint8Array): Promise<void> {
    do await this.awaitSpace();
    while (!this.tryWrite(message));
  }

  /**
   * Writes one message, blocking this thread (`Atomics.wait`) while the ring is full. For worker
   * threads that do no I/O of their own; on the main thread use `write`. Returns false if
   * `timeoutMs` passed without room; throws `StreamClosedError` if the reader cancels.
   *
   * @example
   * for (const m of messages) writer.writeSync(m);
   */
  writeSync(message: Uint8Array, timeoutMs = Infinity): boolean {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    while (!this.tryWrite(message)) {
      if (!this.awaitSpaceSync(deadline - performance.now())) return false;
    }
    return true;
  }

  /**
   * After a failed `tryWrite`/`tryReserve`, resolves once the reader has released enough space
   * for that attempt to be worth retrying, or the reader cancelled (the retry then throws).
   * Never blocks the thread; keeps the process alive while pending.
   *
   * @example
   * let at; while ((at = writer.tryReserve(n)) < 0) await writer.awaitSpace();
   */
  async awaitSpace(): Promise<void> {
    if (!this.registerNeed()) return;
    const outcome = waitAsyncKeepingAlive(this.control, WRITER_NEED, this.need, Infinity);
    if (typeof outcome !== 'string') await outcome;
    Atomics.store(this.control, WRITER_NEED, 0);
  }

  /**
   * Blocking form of `awaitSpace` for worker threads. Returns false if `timeoutMs` passed first.
   *
   * @example
   * while ((at = writer.tryReserve(n)) < 0) writer.awaitSpaceSync();
   */
  awaitSpaceSync(timeoutMs = Infinity): boolean {
    if (timeoutMs <= 0) return false;
    if (!this.registerNeed()) return true;
    const outcome = Atomics.wait(this.control, WRITER_NEED, this.need, timeoutMs);
    Atomics.store(this.control, WRITER_NEED, 0);
    return outcome !== 'timed-out';
  }

  /**
   * Ends the stream. The reader sees every message written before, then the end, with `status`
   * (0 by convention for success; any other int32 is the writer's own error code). Idempotent.
   *
   * @example
   * writer.close(failed ? 1 : 0);
   */
  close(status = 0): void {
    if (this.closed) return;
    this.closed = true;
    this.reserved = 0;
    Atomics.store(this.control, CLOSE_STATUS, status | 0);
    Atomics.store(this.control, CLOSED, 1);
    this.wakeReader();
  }

  /**
   * Free bytes as of the last look at the reader's tail (a lower bound; the reader may have
   * released more since).
   */
  get freeBytes(): number {
    return this.capacity - ((this.head - this.tail) | 0);
  }

  /** The writer's free-running byte position (published or about to be); for metrics and tests. */
  get position(): number {
    return this.head;
  }

  stats(): SpscByteWriterStats {
    return { messages: this.messages, bytes: this.bytes, stalls: this.stalls };
  }

  private checkWritable(length: number): void {
    if (this.closed) throw new StreamClosedError('write after close() on an SPSC byte ring');
    if (Atomics.load(this.control, CANCELLED) !== 0) {
      throw new StreamClosedError('the reader of this SPSC byte ring has cancelled');
    }
    if (this.reserved !== 0) throw new IllegalStateError('tryReserve() again before commit()');
    if (!Number.isInteger(length) || length < 0) {
      throw new InvalidArgumentError(`message length must be a non-negative integer, got ${length}`);
    }
    if (length > this.maxMessageLength) {
      throw new PayloadTooLargeError(`a ${length}-byte message exceeds this ring's limit of ${this.maxMessageLength}`);
    }
  }

  private hasSpace(bytes: number): boolean {
    if (this.capacity - ((this.head - this.tail) | 0) >= bytes) return true;
    this.tail = Atomics.load(this.control, TAIL);
    return this.capacity - ((this.head - this.tail) | 0) >= bytes;
  }

  private stall(need: number): number {
    // Waking for every few freed bytes would bounce the writer in and out of sleep once per reader
    // batch; waiting for a quarter of the ring batches the returned credit instead.
    this.need = Math.max(need, this.capacity >>> 2);
    this.stalls++;
    return -1;
  }

  private publish(): void {
    Atomics.store(this.control, HEAD, this.head);
    this.wakeReader();
  }

  /** Notifies the reader only if it flagged that it sleeps; clearing the flag makes it once per sleep. */
  private wakeReader(): void {
    const control = this.control;
    if (Atomics.load(control, READER_WAITING) !== 0 && Atomics.exchange(control, READER_WAITING, 0) !== 0) {
      Atomics.notify(control, READER_WAITING, 1);
    }
  }

  /**
   * Announces how much space the writer waits for, then re-checks. Returns false when sleeping is
   * unnecessary (space appeared meanwhile); true when the caller should sleep on WRITER_NEED.
   * Announce-then-recheck pairs with the reader's release-then-read, so a wake-up cannot be lost.
   */
  private registerNeed(): boolean {
    if (this.need === 0) return false;
    Atomics.store(this.control, WRITER_NEED, this.need);
    if (Atomics.load(this.control, CANCELLED) !== 0 || this.hasSpace(this.need)) {
      Atomics.store(this.control, WRITER_NEED, 0);
      return false;
    }
    return true;
  }
}
