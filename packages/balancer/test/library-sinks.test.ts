import { NoAvailableNodeError, UpstreamError } from '../src/errors';
import { collectingSink, streamingSink } from '../src/library-sinks';
import type { StartInfo } from '../src/response-sink';

const START: StartInfo = { nodeId: 'gpu-1', status: 200, headers: {}, queueMs: 12, retries: 1 };
const END = { ttftMs: 1, latencyMs: 2 };
const enc = (s: string) => Buffer.from(s, 'utf8');

async function all<T>(it: AsyncIterableIterator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('collectingSink', () => {
  test.each<[string, string[], Record<string, unknown>, string]>([
    ['generate', ['{"model":"m","response":"Hel', 'lo","done":true}'], { model: 'm', response: 'Hello', done: true }, 'Hello'],
    ['chat', ['{"message":{"role":"assistant","content":"Hi"},"done":true}'], { message: { role: 'assistant', content: 'Hi' }, done: true }, 'Hi'],
    ['openai chat', ['{"choices":[{"message":{"content":"Yo"}}]}'], { choices: [{ message: { content: 'Yo' } }] }, 'Yo'],
    ['openai completion', ['{"choices":[{"text":"T"}]}'], { choices: [{ text: 'T' }] }, 'T'],
    ['embed', ['{"embeddings":[[0.1]]}'], { embeddings: [[0.1]] }, ''],
  ])('%s body is parsed, with its text and where it was served', async (_name, chunks, body, text) => {
    const { sink, result } = collectingSink();
    sink.onStart(START);
    for (const c of chunks) sink.onChunk(enc(c));
    sink.onEnd(END);
    await expect(result).resolves.toEqual({ body, text, nodeId: 'gpu-1', queueMs: 12, retries: 1 });
  });

  test('a multi-byte character split across chunks survives', async () => {
    const bytes = enc('{"response":"☀️ ok"}');
    const { sink, result } = collectingSink();
    sink.onStart(START);
    for (let i = 0; i < bytes.length; i++) sink.onChunk(bytes.subarray(i, i + 1));
    sink.onEnd(END);
    expect((await result).text).toBe('☀️ ok');
  });

  test('chunks are copied (the caller may reuse its buffer)', async () => {
    const { sink, result } = collectingSink();
    const buf = enc('{"response":"a"}');
    sink.onStart(START);
    sink.onChunk(buf);
    buf.fill(0x20);
    sink.onEnd(END);
    expect((await result).text).toBe('a');
  });

  test('a body that is not JSON rejects with a 502 UpstreamError naming the node', async () => {
    const { sink, result } = collectingSink();
    sink.onStart(START);
    sink.onChunk(enc('<html>oops</html>'));
    sink.onEnd(END);
    const err = await result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ status: 502, nodeId: 'gpu-1' });
    expect((err as Error).message).toContain('<html>oops</html>');
  });

  test('an error rejects with that error', async () => {
    const { sink, result } = collectingSink();
    const e = new NoAvailableNodeError();
    sink.onError(e, false);
    await expect(result).rejects.toBe(e);
  });
});

describe('streamingSink', () => {
  test('yields each NDJSON line as an object, across arbitrary chunk boundaries', async () => {
    const stream = '{"i":1}\n{"i":2,"s":"☀️"}\n{"i":3,"done":true}\n';
    const bytes = enc(stream);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { sink, iterator } = streamingSink();
      sink.onStart(START);
      sink.onChunk(bytes.subarray(0, cut));
      sink.onChunk(bytes.subarray(cut));
      sink.onEnd(END);
      const got = await all(iterator);
      expect([cut, got]).toEqual([cut, [{ i: 1 }, { i: 2, s: '☀️' }, { i: 3, done: true }]]);
    }
  });

  test('a final line without a newline is delivered at the end', async () => {
    const { sink, iterator } = streamingSink();
    sink.onChunk(enc('{"a":1}\n{"done":true,"done_reason":"load"}'));
    sink.onEnd(END);
    expect(await all(iterator)).toEqual([{ a: 1 }, { done: true, done_reason: 'load' }]);
  });

  test('SSE: data: payloads, without [DONE], blank lines, comments or torn lines', async () => {
    const { sink, iterator } = streamingSink();
    sink.onChunk(enc('data: {"id":1}\n\n: keep-alive\n\ndata: {"id"'));
    sink.onChunk(enc(':2}\r\n\r\ndata: not json\n\ndata: [DONE]\n\n'));
    sink.onEnd(END);
    expect(await all(iterator)).toEqual([{ id: 1 }, { id: 2 }]);
  });

  test('objects arrive while the stream is still open (no buffering to the end)', async () => {
    const { sink, iterator } = streamingSink();
    const first = iterator.next();
    sink.onChunk(enc('{"n":1}\n'));
    await expect(first).resolves.toEqual({ value: { n: 1 }, done: false });
    const second = iterator.next();
    sink.onChunk(enc('{"n":'));
    sink.onChunk(enc('2}\n'));
    await expect(second).resolves.toEqual({ value: { n: 2 }, done: false });
    sink.onEnd(END);
    await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
  });

  test('an in-band {"error"} line ends the iterator with an UpstreamError from the serving node', async () => {
    const { sink, iterator } = streamingSink();
    sink.onStart(START);
    sink.onChunk(enc('{"response":"can","done":false}\n{"error":"an error was encountered while running the model"}\n'));
    sink.onEnd(END);
    const got: unknown[] = [];
    const err = await (async () => {
      for await (const x of iterator) got.push(x);
    })().catch((e: unknown) => e);
    expect(got).toEqual([{ response: 'can', done: false }]);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ message: 'an error was encountered while running the model', nodeId: 'gpu-1', status: 500 });
  });

  test('any object whose error is a string is an in-band error, as the ollama client and dispatch read it', async () => {
    const { sink, iterator } = streamingSink();
    sink.onChunk(enc('{"n":1}\n{"error":"x","status":500}\n'));
    sink.onEnd(END);
    await expect(iterator.next()).resolves.toEqual({ value: { n: 1 }, done: false });
    await expect(iterator.next()).rejects.toMatchObject({ code: 'ERR_UPSTREAM', message: 'x' });
  });

  test('an error field that is not a string is data', async () => {
    const { sink, iterator } = streamingSink();
    sink.onChunk(enc('{"error":null,"done":true}\n'));
    sink.onEnd(END);
    expect(await all(iterator)).toEqual([{ error: null, done: true }]);
  });

  test('onError after some objects: the objects first, then the error', async () => {
    const { sink, iterator } = streamingSink();
    sink.onChunk(enc('{"n":1}\n{"n":2}\n'));
    const e = new UpstreamError('gpu-1', 0, 'idle timeout');
    sink.onError(e, true);
    await expect(iterator.next()).resolves.toEqual({ value: { n: 1 }, done: false });
    await expect(iterator.next()).resolves.toEqual({ value: { n: 2 }, done: false });
    await expect(iterator.next()).rejects.toBe(e);
  });

  test('onError while the consumer waits wakes it with the error', async () => {
    const { sink, iterator } = streamingSink();
    const p = iterator.next();
    const e = new NoAvailableNodeError();
    sink.onError(e, false);
    await expect(p).rejects.toBe(e);
  });

  test('meta() gives the start info', () => {
    const { sink, meta } = streamingSink();
    expect(meta()).toBeUndefined();
    sink.onStart(START);
    expect(meta()).toEqual(START);
  });

  describe('backpressure', () => {
    const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `{"n":${from + i}}\n`).join('');

    test('onChunk asks to wait once 64 objects are unread, and drained() resolves when the reader catches up', async () => {
      const { sink, iterator } = streamingSink();
      expect(sink.onChunk(enc(lines(0, 63)))).toBe(true);
      await expect(sink.drained!()).resolves.toBeUndefined(); // below the mark: at once
      expect(sink.onChunk(enc(lines(63, 1)))).toBe(false); // 64 queued
      let drained = false;
      void sink.drained!().then(() => (drained = true));
      await Promise.resolve();
      expect(drained).toBe(false);
      await iterator.next(); // 63 left: below the mark
      await Promise.resolve();
      expect(drained).toBe(true);
      expect(sink.onChunk(enc(lines(64, 1)))).toBe(false); // back at 64
    });

    test('every object is delivered in order through repeated pauses', async () => {
      const { sink, iterator } = streamingSink();
      const total = 500;
      const producer = (async () => {
        for (let i = 0; i < total; i += 10) {
          if (sink.onChunk(enc(lines(i, 10))) === false) await sink.drained!();
        }
        sink.onEnd(END);
      })();
      const got = (await all(iterator)).map((o) => o.n);
      await producer;
      expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    });
  });
});
