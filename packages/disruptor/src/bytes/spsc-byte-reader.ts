import { IllegalStateError, InvalidArgumentError } from '../errors';
import { CANCELLED, CLOSE_STATUS, CLOSED, FRAME_HEADER, HEAD, READER_ATTACHED, READER_WAITING, SKIP, TAIL, WRITER_NEED, frameSize, viewsOf } from './spsc-byte-layout';
import { waitAsyncKeepingAlive } from './wait-async';

/** `peek()` result: no message is available yet. */
export const NO_MESSAGE = -1;
/** `peek()` result: the writer closed (or the reader cancelled) and every message has been read. */
export const END_OF_STREAM = -2;

/** What a wait for data ended with. */
export type ReadableState = 'message' | 'end' | 'timeout';

/** Called by `drain` for each message: its bytes are `data[offset .. offset + length)`. */
export type ByteMessageHandler = (data: Uint8Array, offset: number, length: number) => void;

/**
 * The consuming end of an SPSC byte ring. It reads messages in place: a message's bytes stay
 * valid until it is released, and releasing is what returns credit to the writer.
 *
 * Nothing here blocks the main thread: waiting is `Atomics.waitAsync`, and a ref'd timer keeps
 * the process alive only while a wait is pending (a bare `waitAsync` would not).
 *
 * Three ways to read, from cheapest to most convenient:
 * - `peek()` / `offset` / `release()`: no allocation at all;
 * - `drain(handler)`: every available message, returning credit once per batch;
 * - `for await (const chunk of reader)`: a view per message, valid until the next iteration.
 *
 * A view's bytes belong to the writer again once released, so a sink that keeps the chunk after
 * it returns (a socket write queued behind a slow client keeps a reference) must get a copy.
 *
 * @example
 * const reader = SpscByteReader.attach(sab);
 * for await (const chunk of reader) res.write(Buffer.from(chunk)); // the socket may queue it: copy
 * if (reader.closeStatus !== 0) log('writer failed', reader.closeStatus);
 */
export class SpscByteReader {
  readonly capacity: number;
  /** The data region; `offset` points into it after a successful `peek()`. */
  readonly data: Uint8Array;
  private messageOffset = 0;

  private readonly control: Int32Array;
  private readonly headers: Int32Array;
  private readonly mask: number;
  /** Start of the next unread frame (local; published to TAIL on release). */
  private tail: number;
  /** Last head seen; re-read only when the reader catches up with it. */
  private head: number;
  /** Frame size of the peeked, unreleased message (0 if none). */
  private current = 0;
  private currentLength = 0;
  private cancelled = false;

  private constructor(sab: SharedArrayBuffer) {
    const views = viewsOf(sab);
    if (!views) throw new InvalidArgumentError('this SharedArrayBuffer does not hold an SPSC byte ring');
    if (Atomics.compareExchange(views.control, READER_ATTACHED, 0, 1) !== 0) {
      throw new IllegalStateError('an SPSC byte ring has exactly one reader, and one is already attached');
    }
    this.control = views.control;
    this.data = views.data;
    this.headers = views.headers;
    this.capacity = views.capacity;
    this.mask = views.capacity - 1;
    this.tail = Atomics.load(this.control, TAIL);
    this.head = Atomics.load(this.control, HEAD);
  }

  /**
   * Becomes the ring's one reader. Throws `IllegalStateError` if a reader is already attached.
   *
   * @example
   * const reader = SpscByteReader.attach(sab);
   */
  static attach(sab: SharedArrayBuffer): SpscByteReader {
    return new SpscByteReader(sab);
  }

  /** Offset in `data` of the message returned by the last `peek()`. */
  get offset(): number {
    return this.messageOffset;
  }

  /** The writer's close code (meaningful once the stream has ended; 0 by convention is success). */
  get closeStatus(): number {
    return Atomics.load(this.control, CLOSE_STATUS);
  }

  /** Whether the writer has closed; messages may still be unread. */
  get writerClosed(): boolean {
    return Atomics.load(this.control, CLOSED) !== 0;
  }

  /**
   * Looks at the next message without consuming it. Returns its length (its bytes start at
   * `offset` in `data`), `NO_MESSAGE` if none is available now, or `END_OF_STREAM`. Calling it
   * again before `release()` returns the same message.
   *
   * @example
   * const n = reader.peek();
   * if (n >= 0) { handle(reader.data, reader.offset, n); reader.release(); }
   */
  peek(): number {
    if (this.current !== 0) return this.currentLength;
    if (this.cancelled) return END_OF_STREAM;
    for (;;) {
      if (this.tail === this.head) {
        // The closed flag must be read before the head: the writer sets it after its last publish.
        const closed = Atomics.load(this.control, CLOSED) !== 0 || Atomics.load(this.control, CANCELLED) !== 0;
        this.head = Atomics.load(this.control, HEAD);
        if (this.tail === this.head) return closed ? END_OF_STREAM : NO_MESSAGE;
      }
      const position = this.tail & this.mask;
      const length = this.headers[position >>> 2];
      if (length === SKIP) {
        this.tail = (this.tail + this.capacity - position) | 0;
        // Publish at once: the writer may be waiting for exactly this space.
        this.publishTail();
        continue;
      }
      this.messageOffset = position + FRAME_HEADER;
      this.current = frameSize(length);
      this.currentLength = length;
      return length;
    }
  }

  /**
   * A view of the peeked message (allocates the view object, never copies). Valid until
   * `release()`. Throws `IllegalStateError` if no message is peeked.
   */
  view(): Uint8Array {
    if (this.current === 0) throw new IllegalStateError('view() without a peeked message');
    return this.data.subarray(this.messageOffset, this.messageOffset + this.currentLength);
  }

  /** Consumes the peeked message and returns its space to the writer. Its bytes are now the writer's. */
  release(): void {
    if (this.current === 0) throw new IllegalStateError('release() without a peeked message');
    this.consume();
    this.publishTail();
  }

  /**
   * Hands every available message (up to `max`) to `handler`, then returns their space to the
   * writer in one step. Returns how many messages were handled; 0 means none was available (check
   * `peek() === END_OF_STREAM` for the end). If the handler throws, the message it threw on counts
   * as consumed, the space is returned, and the error propagates.
   *
   * @example
   * reader.drain((data, off, len) => parser.push(data, off, len)); // parsed in place, nothing kept
   */
  drain(handler: ByteMessageHandler, max = Infinity): number {
    let handled = 0;
    try {
      while (handled < max) {
        const length = this.peek();
        if (length < 0) break;
        handled++;
        this.consume();
        handler(this.data, this.messageOffset, length);
      }
    } finally {
      if (handled > 0) this.publishTail();
    }
    return handled;
  }

  /**
   * Resolves when a message can be peeked (`'message'`), the stream has ended (`'end'`), or
   * `timeoutMs` passed (`'timeout'`). Never blocks the thread; keeps the process alive while
   * pending.
   *
   * @example
   * while ((await reader.readable()) === 'message') reader.drain(send);
   */
  async readable(timeoutMs = Infinity): Promise<ReadableState> {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const ready = this.prepareSleep();
      if (ready !== undefined) return ready;
      const left = deadline - performance.now();
      if (left <= 0) return this.stopWaiting('timeout');
      const outcome = waitAsyncKeepingAlive(this.control, READER_WAITING, 1, left);
      if (typeof outcome !== 'string') await outcome;
      Atomics.store(this.control, READER_WAITING, 0);
    }
  }

  /**
   * Like `readable`, but blocks the thread with `Atomics.wait`. For a reader on a worker thread.
   *
   * @example
   * while (reader.readableSync() === 'message') reader.drain(handle);
   */
  readableSync(timeoutMs = Infinity): ReadableState {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const ready = this.prepareSleep();
      if (ready !== undefined) return ready;
      const left = deadline - performance.now();
      if (left <= 0) return this.stopWaiting('timeout');
      Atomics.wait(this.control, READER_WAITING, 1, left);
      Atomics.store(this.control, READER_WAITING, 0);
    }
  }

  /**
   * Yields each message as a view that stays valid until the next iteration (the previous message
   * is released when the next is requested, or when the loop exits). Ends when the writer closes.
   *
   * @example
   * for await (const chunk of reader) hash.update(chunk); // done with the bytes before the next one
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for (;;) {
        const length = this.peek();
        if (length === END_OF_STREAM) return;
        if (length === NO_MESSAGE) {
          await this.readable();
          continue;
        }
        yield this.data.subarray(this.messageOffset, this.messageOffset + length);
        this.release();
      }
    } finally {
      if (this.current !== 0) this.release();
    }
  }

  /**
   * Gives up on the stream, e.g. because the client disconnected: the writer's next write throws
   * `StreamClosedError`, a writer waiting for space wakes, and this reader sees the end. Unread
   * messages are discarded.
   *
   * @example
   * res.on('close', () => reader.cancel());
   */
  cancel(): void {
    this.cancelled = true;
    this.current = 0;
    const control = this.control;
    Atomics.store(control, CANCELLED, 1);
    if (Atomics.exchange(control, WRITER_NEED, 0) !== 0) Atomics.notify(control, WRITER_NEED, 1);
    // Wake a pending `readable()` on this side too; it will find the end.
    if (Atomics.exchange(control, READER_WAITING, 0) !== 0) Atomics.notify(control, READER_WAITING);
  }

  /** Bytes the writer has published that this reader has not yet released. */
  get pendingBytes(): number {
    return (Atomics.load(this.control, HEAD) - Atomics.load(this.control, TAIL)) | 0;
  }

  private consume(): void {
    this.tail = (this.tail + this.current) | 0;
    this.current = 0;
  }

  /**
   * Flags the reader as sleeping and re-checks for data. Returns the state if there is no need to
   * sleep. Flag-then-recheck pairs with the writer's publish-then-read-flag, so either this
   * re-check sees the new message (or the close), or the writer sees the flag and notifies.
   */
  private prepareSleep(): ReadableState | undefined {
    const first = this.peek();
    if (first !== NO_MESSAGE) return first === END_OF_STREAM ? 'end' : 'message';
    Atomics.store(this.control, READER_WAITING, 1);
    const again = this.peek();
    if (again !== NO_MESSAGE) return this.stopWaiting(again === END_OF_STREAM ? 'end' : 'message');
    return undefined;
  }

  private stopWaiting(state: ReadableState): ReadableState {
    Atomics.store(this.control, READER_WAITING, 0);
    return state;
  }

  /** Publishes the tail, then wakes the writer if it sleeps and the space it needs is now free. */
  private publishTail(): void {
    const control = this.control;
    Atomics.store(control, TAIL, this.tail);
    const need = Atomics.load(control, WRITER_NEED);
    if (need === 0) return;
    const free = this.capacity - ((Atomics.load(control, HEAD) - this.tail) | 0);
    if (free >= need && Atomics.compareExchange(control, WRITER_NEED, need, 0) === need) {
      Atomics.notify(control, WRITER_NEED, 1);
    }
  }
}
