import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { IllegalStateError, InvalidArgumentError, PayloadTooLargeError, StreamClosedError } from '../../src/errors';
import { END_OF_STREAM, NO_MESSAGE, SpscByteReader, SpscByteWriter, createSpscByteRing } from '../../src/bytes';
import { fillMessage, frameBytes, isMessage, messageLength } from './fixtures/message-pattern';
import { fixture, startWorker, stopAllWorkers } from './run-worker';

afterEach(stopAllWorkers);

function pair(capacity: number, initialPosition = 0) {
  const sab = createSpscByteRing(capacity, { initialPosition });
  return { sab, writer: SpscByteWriter.attach(sab), reader: SpscByteReader.attach(sab) };
}

function message(i: number, length: number): Uint8Array {
  const m = new Uint8Array(length);
  fillMessage(m, 0, i, length);
  return m;
}

/** Reads one message and checks it is message `i` of `length` bytes; returns where it sat. */
function readExpecting(reader: SpscByteReader, i: number, length: number): number {
  const got = reader.peek();
  expect(got).toBe(length);
  expect(isMessage(reader.data, reader.offset, i, length)).toBe(true);
  const at = reader.offset;
  reader.release();
  return at;
}

describe('SpscByteRing: framing and wrap-around (one thread)', () => {
  const CAPACITY = 64;
  // Positions are free-running int32s: start at the buffer's start, just below 2^31 and just below 0,
  // so that both the buffer's end and the int32 wrap are crossed.
  const bases = [0, 2 ** 31 - CAPACITY, -CAPACITY];
  const offsets = Array.from({ length: CAPACITY / 4 }, (_, k) => k * 4);
  const kinds = ['exact fill', 'needs skip', 'empty', 'maximal'] as const;
  const firstLength = (kind: (typeof kinds)[number], room: number) => ({ 'exact fill': room - 4, 'needs skip': room - 3, empty: 0, maximal: CAPACITY - 4 })[kind];
  // Leave out what cannot exist: at offset 0 nothing needs a skip (it would exceed the maximum).
  const cases = bases.flatMap((base) =>
    offsets.flatMap((offset) => kinds.filter((kind) => firstLength(kind, CAPACITY - offset) <= CAPACITY - 4).map((kind) => [base, offset, kind] as const)),
  );

  test.each(cases)('position %i + %i, first message %s, then more', (base, offset, kind) => {
    const room = CAPACITY - offset;
    const first = firstLength(kind, room);
    // Where the first frame must start: in place when it fits before the end, else at 0 behind a skip.
    const expectedFrameAt = frameBytes(first) <= room ? offset : 0;
    const { writer, reader } = pair(CAPACITY, (base + offset) | 0);
    const lengths = [first, 1, 0, CAPACITY - 4, 13, Math.min(room, CAPACITY - 4), 0];
    lengths.forEach((length, i) => {
      const m = message(i, length);
      if (!writer.tryWrite(m)) {
        // Only a skip marker the reader has not consumed yet can be in the way: everything else was read.
        expect(reader.peek()).toBe(NO_MESSAGE);
        expect(writer.tryWrite(m)).toBe(true);
      }
      const at = readExpecting(reader, i, length);
      if (i === 0) expect(at - 4).toBe(expectedFrameAt);
      expect(at - 4 + frameBytes(length)).toBeLessThanOrEqual(CAPACITY); // a frame never straddles the end
    });
    expect(reader.peek()).toBe(NO_MESSAGE);
    expect(reader.pendingBytes).toBe(0);
    expect(writer.position).toBe(Atomics.load(new Int32Array(writer.data.buffer, 0, 1), 0));
  });

  test('a frame that does not fit before the end goes to offset 0 behind a skip marker', () => {
    const { writer, reader } = pair(64, 56); // 8 bytes of room before the end
    expect(writer.tryWrite(message(0, 4))).toBe(true); // header + 4 = 8: ends exactly at the end
    expect(writer.tryWrite(message(1, 1))).toBe(true); // so this one starts at 0, no skip needed
    expect(readExpecting(reader, 0, 4)).toBe(60);
    expect(writer.tryWrite(message(2, 48))).toBe(true); // frame of 52 at 8..60; message 1 still unread
    expect(writer.freeBytes).toBe(4);
    // 4 bytes left at the end and 8 needed: the writer skips them (that much is free) and then stops.
    expect(writer.tryWrite(message(3, 1))).toBe(false);
    expect(writer.freeBytes).toBe(0);
    expect(readExpecting(reader, 1, 1)).toBe(4);
    expect(readExpecting(reader, 2, 48)).toBe(12);
    expect(reader.peek()).toBe(NO_MESSAGE); // steps over the skip marker, returning its 4 bytes
    expect(writer.tryWrite(message(3, 1))).toBe(true);
    expect(readExpecting(reader, 3, 1)).toBe(4);
  });

  test('several messages per lap, many laps, in order', () => {
    const { writer, reader } = pair(256, -1000);
    let written = 0;
    let read = 0;
    let bad = 0;
    while (read < 5000) {
      while (written < 5000 && writer.tryWrite(message(written, messageLength(written, 60)))) written++;
      reader.drain((data, offset, length) => {
        if (length !== messageLength(read, 60) || !isMessage(data, offset, read, length)) bad++;
        read++;
      }, 3);
    }
    expect({ written, bad }).toEqual({ written: 5000, bad: 0 });
    expect(reader.peek()).toBe(NO_MESSAGE);
  });

  test('a full ring refuses writes and never overwrites; release returns the credit', () => {
    const { writer, reader } = pair(64);
    expect(writer.tryWrite(message(0, 28))).toBe(true); // 32 bytes
    expect(writer.tryWrite(message(1, 28))).toBe(true); // 64: full
    expect(writer.tryWrite(message(2, 0))).toBe(false);
    expect(writer.freeBytes).toBe(0);
    expect(writer.stats()).toEqual({ messages: 2, bytes: 56, stalls: 1 });
    expect(reader.peek()).toBe(28);
    expect(reader.peek()).toBe(28); // peeking again is the same message
    expect(writer.tryWrite(message(2, 0))).toBe(false); // not released yet
    reader.release();
    expect(writer.tryWrite(message(2, 0))).toBe(true);
    readExpecting(reader, 1, 28);
    readExpecting(reader, 2, 0);
  });

  test('tryReserve/commit builds a message in place; nothing is visible before the commit', () => {
    const { writer, reader } = pair(64);
    const at = writer.tryReserve(5);
    fillMessage(writer.data, at, 7, 5);
    expect(reader.peek()).toBe(NO_MESSAGE);
    writer.commit();
    readExpecting(reader, 7, 5);
    expect(() => writer.commit()).toThrow(IllegalStateError);
    writer.tryReserve(1);
    expect(() => writer.tryReserve(1)).toThrow(IllegalStateError);
  });

  test('drain hands over a batch and returns its credit in one step', () => {
    const { writer, reader } = pair(128);
    for (let i = 0; i < 10; i++) expect(writer.tryWrite(message(i, 4))).toBe(true);
    const seen: number[] = [];
    expect(reader.drain((data, offset, length) => seen.push(isMessage(data, offset, seen.length, length) ? length : -1), 4)).toBe(4);
    expect(reader.drain((data, offset, length) => seen.push(isMessage(data, offset, seen.length, length) ? length : -1))).toBe(6);
    expect(seen).toEqual(Array(10).fill(4));
    expect(reader.pendingBytes).toBe(0);
    expect(reader.drain(() => undefined)).toBe(0);
  });

  test('a handler that throws: its message counts as consumed, the rest stay', () => {
    const { writer, reader } = pair(64);
    for (let i = 0; i < 3; i++) writer.tryWrite(message(i, 4));
    expect(() =>
      reader.drain(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    readExpecting(reader, 1, 4);
    readExpecting(reader, 2, 4);
  });

  test('limits and misuse are typed errors', () => {
    expect(() => createSpscByteRing(100)).toThrow(InvalidArgumentError);
    expect(() => createSpscByteRing(8)).toThrow(InvalidArgumentError);
    expect(() => createSpscByteRing(64, { initialPosition: 2 })).toThrow(InvalidArgumentError);
    const { sab, writer, reader } = pair(64);
    expect(() => SpscByteWriter.attach(sab)).toThrow(IllegalStateError);
    expect(() => SpscByteReader.attach(sab)).toThrow(IllegalStateError);
    expect(() => SpscByteReader.attach(new SharedArrayBuffer(1024))).toThrow(InvalidArgumentError);
    expect(writer.maxMessageLength).toBe(60);
    expect(() => writer.tryWrite(new Uint8Array(61))).toThrow(PayloadTooLargeError);
    expect(() => reader.release()).toThrow(IllegalStateError);
    writer.close();
    expect(() => writer.tryWrite(new Uint8Array(1))).toThrow(StreamClosedError);
  });
});

describe('SpscByteRing: end of stream and waiting (one thread)', () => {
  test('the reader sees every message, then the end and the close status', async () => {
    const { writer, reader } = pair(256);
    for (let i = 0; i < 5; i++) writer.tryWrite(message(i, 10 * i));
    writer.close(3);
    expect(reader.writerClosed).toBe(true);
    const lengths: number[] = [];
    for await (const chunk of reader) lengths.push(chunk.length);
    expect(lengths).toEqual([0, 10, 20, 30, 40]);
    expect(reader.peek()).toBe(END_OF_STREAM);
    expect(reader.closeStatus).toBe(3);
  });

  test('a pending readable() resolves when the writer writes, and when it closes', async () => {
    const { writer, reader } = pair(64);
    const first = reader.readable();
    writer.tryWrite(message(0, 3));
    await expect(first).resolves.toBe('message');
    readExpecting(reader, 0, 3);
    const second = reader.readable();
    writer.close();
    await expect(second).resolves.toBe('end');
  });

  test('readable(timeout) gives up with "timeout" and leaves no timer behind', async () => {
    const { reader } = pair(64);
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await expect(reader.readable(5)).resolves.toBe('timeout');
    await expect(reader.readable(0)).resolves.toBe('timeout');
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter).toBe(timersBefore);
  });

  test('breaking out of for-await releases the message in hand', async () => {
    const { writer, reader } = pair(64);
    writer.tryWrite(message(0, 20));
    writer.tryWrite(message(1, 20));
    for await (const chunk of reader) {
      expect(chunk.length).toBe(20);
      break;
    }
    readExpecting(reader, 1, 20);
  });

  test('cancel: the writer gets StreamClosedError, the reader sees the end', async () => {
    const { writer, reader } = pair(64);
    writer.tryWrite(message(0, 28));
    writer.tryWrite(message(1, 28));
    const blocked = writer.write(message(2, 28)); // full: waits for space
    reader.cancel();
    await expect(blocked).rejects.toBeInstanceOf(StreamClosedError);
    await expect(writer.write(message(3, 0))).rejects.toMatchObject({ code: 'ERR_STREAM_CLOSED' }); // rejects, never throws
    expect(writer.cancelled).toBe(true);
    expect(reader.peek()).toBe(END_OF_STREAM);
    await expect(reader.readable()).resolves.toBe('end');
  });
});

describe('SpscByteRing: a worker writer and a main-thread reader', () => {
  type WriterResult = { stats: { messages: number; bytes: number; stalls: number }; maxAheadBytes: number; error?: string };

  /** Reads with drain + readable until the end, checking every message; returns the count. */
  async function readAll(reader: SpscByteReader, maxLength: number): Promise<{ count: number; bad: number }> {
    let count = 0;
    let bad = 0;
    const check = (data: Uint8Array, offset: number, length: number) => {
      if (length !== messageLength(count, maxLength) || !isMessage(data, offset, count, length)) bad++;
      count++;
    };
    for (;;) {
      if (reader.drain(check) > 0) continue;
      if ((await reader.readable()) === 'end' && reader.peek() === END_OF_STREAM) return { count, bad };
    }
  }

  test.each([
    ['reserve', 300_000, 1 << 16],
    ['async', 100_000, 1 << 12],
  ] as const)('mode %s: %i variable-size messages arrive in order and intact', async (mode, count, capacity) => {
    const maxLength = 300;
    const ring = createSpscByteRing(capacity, { initialPosition: 2 ** 31 - 4096 });
    const reader = SpscByteReader.attach(ring);
    const worker = startWorker('ring-writer.js', { ring, count, maxLength, mode, closeStatus: 0 });
    const result = worker.lastMessage as Promise<WriterResult>;
    const started = performance.now();
    const { count: received, bad } = await readAll(reader, maxLength);
    const seconds = (performance.now() - started) / 1000;
    const { stats, error } = await result;
    expect(error).toBeUndefined();
    expect({ received, bad }).toEqual({ received: count, bad: 0 });
    expect(stats.messages).toBe(count);
    expect(reader.closeStatus).toBe(0);
    // Informational only (the machine is shared): never asserted.
    if (process.env.BYTES_THROUGHPUT) {
      console.log(`${mode}: ${(count / seconds / 1e6).toFixed(2)} M msgs/s, ${(stats.bytes / seconds / 2 ** 20).toFixed(0)} MiB/s`);
    }
  });

  test('a slow reader stalls the fast writer, which never gets more than the capacity ahead, then resumes', async () => {
    const WRITTEN = 0;
    const STALLS = 16;
    const CONSUMED = 32;
    const capacity = 1024;
    const count = 3000;
    const maxLength = 100;
    const ring = createSpscByteRing(capacity);
    const progress = new SharedArrayBuffer(64 * 4);
    const shared = new Int32Array(progress);
    const reader = SpscByteReader.attach(ring);
    const worker = startWorker('ring-writer.js', { ring, count, maxLength, mode: 'reserve', progress });
    const result = worker.lastMessage as Promise<WriterResult>;

    // Read nothing until the writer has hit the wall at least once.
    while (Atomics.load(shared, STALLS) === 0) await sleep(1);
    const writtenAtStall = Atomics.load(shared, WRITTEN);
    expect(writtenAtStall).toBeLessThan(count);
    expect(reader.pendingBytes).toBeLessThanOrEqual(capacity);
    let framesWritten = 0;
    for (let i = 0; i < writtenAtStall; i++) framesWritten += frameBytes(messageLength(i, maxLength));
    expect(framesWritten).toBeLessThanOrEqual(capacity);

    let next = 0;
    let bad = 0;
    while (next < count) {
      const length = reader.peek();
      if (length === NO_MESSAGE) {
        await reader.readable();
        continue;
      }
      if (length !== messageLength(next, maxLength) || !isMessage(reader.data, reader.offset, next, length)) bad++;
      Atomics.store(shared, CONSUMED, next + 1); // before the release: see ring-writer.js
      reader.release();
      next++;
      if (next % 100 === 0) await sleep(1); // the slow socket
    }
    await expect(reader.readable()).resolves.toBe('end');
    const { stats, maxAheadBytes, error } = await result;
    expect(error).toBeUndefined();
    expect(bad).toBe(0);
    expect(stats.messages).toBe(count);
    expect(stats.stalls).toBeGreaterThan(1); // it stalled, resumed, and stalled again
    expect(maxAheadBytes).toBeLessThanOrEqual(capacity);
  });

  test('end of stream: the close status crosses threads after the last message', async () => {
    const ring = createSpscByteRing(1024);
    const reader = SpscByteReader.attach(ring);
    const worker = startWorker('ring-writer.js', { ring, count: 50, maxLength: 40, mode: 'async', closeStatus: 42 });
    let i = 0;
    for await (const chunk of reader) {
      expect(isMessage(chunk, 0, i, messageLength(i, 40))).toBe(true);
      i++;
    }
    expect(i).toBe(50);
    expect(reader.closeStatus).toBe(42);
    await worker.exited;
  });

  test('a reader already waiting wakes when the writer closes without writing', async () => {
    const ring = createSpscByteRing(64);
    const reader = SpscByteReader.attach(ring);
    const handshake = new SharedArrayBuffer(4);
    const worker = startWorker('ring-closer.js', { ring, handshake, status: 9 });
    const state = reader.readable(); // registers its wait before returning
    Atomics.store(new Int32Array(handshake), 0, 1);
    Atomics.notify(new Int32Array(handshake), 0);
    await expect(state).resolves.toBe('end');
    expect(reader.closeStatus).toBe(9);
    await worker.exited;
  });

  test('cancel from the main thread stops a worker blocked on a full ring', async () => {
    const ring = createSpscByteRing(256);
    const progress = new SharedArrayBuffer(64 * 4);
    const reader = SpscByteReader.attach(ring);
    const worker = startWorker('ring-writer.js', { ring, count: 10_000, maxLength: 50, mode: 'reserve', progress });
    const result = worker.lastMessage as Promise<WriterResult>;
    while (Atomics.load(new Int32Array(progress), 16) === 0) await sleep(1);
    reader.cancel();
    await expect(result).resolves.toEqual({ error: 'ERR_STREAM_CLOSED' });
  });

  test('a pending readable() keeps the process alive until the message comes', () => {
    // A child process whose only pending work is the reader's wait (the writer is an unref'd worker).
    const child = spawnSync(process.execPath, [fixture('keepalive-child.js')], { encoding: 'utf8', timeout: 20_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('message:42');
  });
});
