import { ArenaFullError, IllegalStateError, InvalidArgumentError, PayloadTooLargeError } from '../../src/errors';
import { ARENA_FULL, ArenaRef, ByteArena, NO_PAYLOAD } from '../../src/bytes';
import { RecordLayout } from '../../src/record-layout';
import { RingBuffer } from '../../src/ring-buffer';
import { checkAllocation, stampAllocation } from './fixtures/arena-pattern';
import { startWorker, stopAllWorkers } from './run-worker';

afterEach(stopAllWorkers);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('ByteArena: single thread', () => {
  test('alloc, write, view and free round-trip without copying', () => {
    const arena = new ByteArena({ capacity: 4096, blockSize: 64 });
    const body = encoder.encode('{"model":"llama3","prompt":"hi"}');
    const off = arena.alloc(body.length);
    arena.write(off, body);
    const view = arena.view(off);
    expect(decoder.decode(view)).toBe('{"model":"llama3","prompt":"hi"}');
    expect(view.buffer).toBe(arena.sab); // a view onto shared memory, not a copy
    view[2] = 'M'.charCodeAt(0);
    expect(decoder.decode(arena.view(off, 9))).toBe('{"Model":');
    expect(arena.lengthOf(off)).toBe(body.length);
    expect(arena.stats()).toMatchObject({ usedBlocks: 1, usedBytes: 64, payloadBytes: body.length, liveAllocations: 1 });
    arena.free(off);
    expect(arena.stats()).toMatchObject({ usedBlocks: 0, usedBytes: 0, payloadBytes: 0, liveAllocations: 0, allocations: 1, frees: 1 });
  });

  test.each([
    [0, 1],
    [1, 1],
    [63, 1],
    [64, 1],
    [65, 2],
    [200, 4],
    [4096, 64],
  ])('a %i-byte payload takes %i block(s) of 64', (length, blocks) => {
    const arena = new ByteArena({ capacity: 4096, blockSize: 64 });
    const off = arena.alloc(length);
    expect(off % 64).toBe(0);
    expect(arena.view(off).length).toBe(length);
    expect(arena.stats().usedBlocks).toBe(blocks);
    arena.free(off);
    expect(arena.stats().usedBlocks).toBe(0);
  });

  test('tryAllocCopy copies once and reports ARENA_FULL when it cannot', () => {
    const arena = new ByteArena({ capacity: 128, blockSize: 64 });
    const a = arena.tryAllocCopy(encoder.encode('first'));
    const b = arena.tryAllocCopy(encoder.encode('second'));
    expect(arena.tryAllocCopy(encoder.encode('third'))).toBe(ARENA_FULL);
    expect(decoder.decode(arena.view(a))).toBe('first');
    expect(decoder.decode(arena.view(b))).toBe('second');
  });

  test('a full arena fails at once with a typed error, and counts the failure', () => {
    const arena = new ByteArena({ capacity: 1024, blockSize: 128 });
    const offsets: number[] = [];
    for (let i = 0; i < 8; i++) offsets.push(arena.alloc(100));
    expect(arena.tryAlloc(1)).toBe(ARENA_FULL);
    expect(() => arena.alloc(1)).toThrow(ArenaFullError);
    expect(() => arena.alloc(1)).toThrow(expect.objectContaining({ code: 'ERR_ARENA_FULL' }));
    expect(arena.stats()).toMatchObject({ usedBlocks: 8, usedBytes: 1024, allocationsFailed: 3, liveAllocations: 8 });
    arena.free(offsets[3]);
    expect(arena.alloc(128)).toBe(offsets[3]);
  });

  test('a payload larger than the whole arena is PayloadTooLargeError, not a wait', () => {
    const arena = new ByteArena({ capacity: 1000, blockSize: 64 }); // rounds up to 1024
    expect(arena.capacity).toBe(1024);
    expect(() => arena.tryAlloc(1025)).toThrow(PayloadTooLargeError);
    const whole = arena.alloc(1024);
    arena.free(whole);
  });

  test.each([
    [{ capacity: 0 }],
    [{ capacity: 1.5 }],
    [{ capacity: 2 ** 31 }],
    [{ capacity: 1024, blockSize: 100 }],
    [{ capacity: 1024, blockSize: 4 }],
    [{ capacity: 1024, blockSize: 2 ** 21 }],
  ])('rejects options %j', (options) => {
    expect(() => new ByteArena(options)).toThrow(InvalidArgumentError);
  });

  test('rejects bad lengths, foreign offsets and double frees', () => {
    const arena = new ByteArena({ capacity: 1024, blockSize: 64 });
    expect(() => arena.tryAlloc(-1)).toThrow(InvalidArgumentError);
    expect(() => arena.tryAlloc(2.5)).toThrow(InvalidArgumentError);
    const off = arena.alloc(10);
    expect(() => arena.free(off + 1)).toThrow(IllegalStateError);
    expect(() => arena.free(4096)).toThrow(IllegalStateError);
    expect(() => arena.free(64)).toThrow(IllegalStateError); // aligned, but not allocated
    expect(() => arena.write(off, new Uint8Array(11))).toThrow(InvalidArgumentError);
    arena.free(off);
    expect(() => arena.free(off)).toThrow(IllegalStateError);
    expect(() => arena.lengthOf(off)).toThrow(IllegalStateError);
    expect(arena.stats()).toMatchObject({ liveAllocations: 0, frees: 1 });
  });

  test('fragmentation: free single blocks do not make a run, freed neighbours do, and space is reused', () => {
    const arena = new ByteArena({ capacity: 100 * 64, blockSize: 64 }); // 100 blocks: 3 full bitmap words and a partial one
    const singles = Array.from({ length: 100 }, () => arena.alloc(64));
    expect(new Set(singles).size).toBe(100);
    for (let i = 0; i < 100; i += 2) arena.free(singles[i]);
    expect(arena.stats().usedBlocks).toBe(50);
    expect(arena.tryAlloc(65)).toBe(ARENA_FULL); // 50 free blocks, no two adjacent
    const reused = arena.alloc(64);
    expect(singles.filter((_, i) => i % 2 === 0)).toContain(reused);
    // Freeing 31 and 33 joins the free 30, 32 and 34 into blocks 30..34, across a bitmap word boundary.
    arena.free(singles[31]);
    arena.free(singles[33]);
    expect(arena.alloc(5 * 64)).toBe(30 * 64);
    expect(arena.tryAlloc(65)).toBe(ARENA_FULL);
  });

  test('runs across word boundaries, the whole arena, and a search that wraps past the hint', () => {
    const arena = new ByteArena({ capacity: 100 * 64, blockSize: 64 });
    const a = arena.alloc(40 * 64); // blocks 0..39
    const b = arena.alloc(40 * 64); // blocks 40..79
    expect([a, b]).toEqual([0, 40 * 64]);
    expect(arena.tryAlloc(21 * 64)).toBe(ARENA_FULL); // only 20 left, at the end
    arena.free(a);
    // The only 30-block run is the first one.
    expect(arena.alloc(30 * 64)).toBe(0);
    arena.free(0);
    arena.free(b);
    const all = arena.alloc(arena.capacity);
    expect(all).toBe(0);
    expect(arena.stats().usedBlocks).toBe(100);
  });

  test('first fit: a steady stream of allocations and frees keeps to the lowest blocks (the pages it touches stay few)', () => {
    const arena = new ByteArena({ capacity: 1_000 * 64, blockSize: 64 });
    let highest = 0;
    const live: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const off = arena.alloc(100);
      highest = Math.max(highest, off);
      live.push(off);
      // Up to four live at once, freed oldest first.
      if (live.length > 4) arena.free(live.shift()!);
    }
    expect(highest).toBeLessThan(10 * 64);
  });

  test('randomised against a simple model: live allocations never overlap and all space comes back', () => {
    const blockSize = 32;
    const arena = new ByteArena({ capacity: 300 * blockSize, blockSize });
    const model = new Int32Array(300); // owner id per block, 0 when free
    const live: { offset: number; length: number; id: number }[] = [];
    let seed = 12345;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    const blocksOf = (length: number) => Math.max(1, Math.ceil(length / blockSize));
    let wrongOwner = 0;
    let corrupt = 0;
    let refusedWithRoom = 0;
    let refusals = 0;
    for (let id = 1; id <= 20_000; id++) {
      if (live.length > 0 && random() < 0.45) {
        const pick = Math.floor(random() * live.length);
        const { offset, length, id: owner } = live[pick];
        live[pick] = live[live.length - 1];
        live.pop();
        if (checkAllocation(arena.bytes, offset, length) !== 'ok') corrupt++;
        const first = offset / blockSize;
        for (let b = first; b < first + blocksOf(length); b++) {
          if (model[b] !== owner) wrongOwner++;
          model[b] = 0;
        }
        arena.free(offset);
        continue;
      }
      const length = 8 + Math.floor(random() * random() * 20 * blockSize);
      const offset = arena.tryAlloc(length);
      if (offset === ARENA_FULL) {
        // The arena may only refuse when the model has no free run that long (single thread: no races).
        refusals++;
        let run = 0;
        let longest = 0;
        for (const owner of model) longest = Math.max(longest, (run = owner === 0 ? run + 1 : 0));
        if (longest >= blocksOf(length)) refusedWithRoom++;
        continue;
      }
      const first = offset / blockSize;
      for (let b = first; b < first + blocksOf(length); b++) {
        if (model[b] !== 0) wrongOwner++;
        model[b] = id;
      }
      stampAllocation(arena.bytes, offset, length, id);
      live.push({ offset, length, id });
    }
    expect({ wrongOwner, corrupt, refusedWithRoom }).toEqual({ wrongOwner: 0, corrupt: 0, refusedWithRoom: 0 });
    expect(refusals).toBeGreaterThan(0); // the sizes were chosen so that the arena does fill up
    for (const { offset } of live) arena.free(offset);
    expect(arena.stats()).toMatchObject({ usedBlocks: 0, liveAllocations: 0, payloadBytes: 0 });
    expect(arena.alloc(arena.capacity)).toBe(0);
  });
});

describe('ArenaRef: a payload reference in two int32 ring fields', () => {
  test('packs into a ring record, reads back in place, frees once', () => {
    const layout = RecordLayout.define({ requestId: 'int32', bodyOffset: 'int32', bodyLength: 'int32' });
    const ring = RingBuffer.create({ layout, size: 4, producerType: 'single' });
    const event = ring.createView().at(0);
    const arena = new ByteArena({ capacity: 1024, blockSize: 64 });
    const body = new ArenaRef('bodyOffset', 'bodyLength');
    const bytes = encoder.encode('{"prompt":"why is the sky blue?"}');

    body.set(event, arena.tryAllocCopy(bytes), bytes.length);
    expect(body.has(event)).toBe(true);
    expect(body.length(event)).toBe(bytes.length);
    // Another view onto the same slot (as another stage would have) sees the same reference.
    const again = ring.createView().at(0);
    expect(decoder.decode(body.view(arena, again))).toBe('{"prompt":"why is the sky blue?"}');

    body.free(arena, again);
    expect(body.has(event)).toBe(false);
    expect(event.bodyOffset).toBe(NO_PAYLOAD);
    body.free(arena, again); // harmless: the record says there is nothing left to free
    expect(arena.stats().liveAllocations).toBe(0);
  });
});

describe('ByteArena: across threads', () => {
  test('attach on another thread: it reads and writes the same bytes, and its allocation is freed here', async () => {
    const arena = new ByteArena({ capacity: 4096, blockSize: 64 });
    const request = encoder.encode('hello from main');
    const offset = arena.tryAllocCopy(request);
    const worker = startWorker('arena-peer.js', { arena: arena.sab, offset, length: request.length });
    type Reply = { text: string; replyOffset: number; replyLength: number; viewIsShared: boolean };
    const reply = (await worker.lastMessage) as Reply;
    expect(reply.text).toBe('hello from main');
    expect(reply.viewIsShared).toBe(true);
    expect(decoder.decode(arena.view(offset))).toBe('HELLO FROM MAIN'); // the worker's writes, seen here
    expect(arena.lengthOf(reply.replyOffset)).toBe(reply.replyLength);
    expect(decoder.decode(arena.view(reply.replyOffset))).toBe('got 15 bytes');
    expect(arena.stats().liveAllocations).toBe(2);
    arena.free(reply.replyOffset); // allocated on the worker, freed here
    arena.free(offset);
    expect(arena.stats()).toMatchObject({ liveAllocations: 0, usedBlocks: 0, allocations: 2, frees: 2 });
  });

  test('attach rejects a buffer that is not an arena', () => {
    expect(() => ByteArena.attach(new SharedArrayBuffer(4096))).toThrow(InvalidArgumentError);
    expect(() => ByteArena.attach(new SharedArrayBuffer(8))).toThrow(InvalidArgumentError);
  });

  test('3 threads allocate, trade and free concurrently: live blocks never overlap, nothing leaks', async () => {
    const blockSize = 64;
    const arena = new ByteArena({ capacity: 160 * blockSize, blockSize });
    const owners = new SharedArrayBuffer(arena.blockCount * 4);
    const mailbox = new SharedArrayBuffer(48 * 4);
    new Int32Array(mailbox).fill(-1);
    const workers = [0, 1, 2].map((id) =>
      startWorker('arena-churn.js', {
        arena: arena.sab,
        owners,
        mailbox,
        id,
        iterations: 60_000,
        maxLength: 4 * blockSize,
        seed: 0x9e3779b9 * (id + 1),
      }),
    );
    type Result = { allocations: number; frees: number; full: number; overlaps: number; corrupt: number; lengthMismatch: number };
    const results = await Promise.all(workers.map((w) => w.lastMessage as Promise<Result>));
    for (const r of results) {
      expect(r).toMatchObject({ overlaps: 0, corrupt: 0, lengthMismatch: 0 });
      expect(r.allocations).toBeGreaterThan(0);
    }
    // What is left in the mailbox is still intact; free it here, on a fourth thread.
    const slots = new Int32Array(mailbox);
    let left = 0;
    for (const off of slots) {
      if (off < 0) continue;
      left++;
      expect(checkAllocation(arena.bytes, off, arena.lengthOf(off))).toBe('ok');
      arena.free(off);
    }
    const allocations = results.reduce((t, r) => t + r.allocations, 0);
    const frees = results.reduce((t, r) => t + r.frees, 0);
    expect(frees + left).toBe(allocations);
    const stats = arena.stats();
    expect(stats).toMatchObject({ usedBlocks: 0, liveAllocations: 0, payloadBytes: 0, allocations, frees: allocations });
    expect(stats.allocationsFailed).toBe(results.reduce((t, r) => t + r.full, 0));
    expect(arena.alloc(arena.capacity)).toBe(0); // every block came back
  });
});
