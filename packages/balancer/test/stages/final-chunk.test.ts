import { FinalChunkTracker, statsOf } from '../../src/stages/final-chunk';

const enc = (s: string) => Buffer.from(s, 'utf8');

/** A real /api/generate stream as Ollama writes it (ollama-api.md §2), with a multi-byte character. */
const FINAL = {
  model: 'llama3.2',
  created_at: '2025-01-01T00:00:01Z',
  response: '',
  done: true,
  done_reason: 'stop',
  context: [1, 2, 3],
  total_duration: 10_706_818_083,
  load_duration: 6_338_219_291,
  prompt_eval_count: 26,
  prompt_eval_duration: 130_079_000,
  eval_count: 259,
  eval_duration: 4_232_710_000,
};
const NDJSON =
  '{"model":"llama3.2","created_at":"2025-01-01T00:00:00.1Z","response":"The","done":false}\n' +
  '{"model":"llama3.2","created_at":"2025-01-01T00:00:00.2Z","response":" ciel ☀️ bleu","done":false}\n' +
  `${JSON.stringify(FINAL)}\n`;

function track(...chunks: (string | Uint8Array)[]): FinalChunkTracker {
  const t = new FinalChunkTracker();
  for (const c of chunks) t.push(typeof c === 'string' ? enc(c) : c);
  return t;
}

describe('FinalChunkTracker', () => {
  test('the whole stream in one chunk', () => {
    expect(track(NDJSON).lastObject()).toEqual(FINAL);
  });

  test('split in two at every byte offset', () => {
    const bytes = enc(NDJSON);
    for (let i = 0; i <= bytes.length; i++) {
      const got = track(bytes.subarray(0, i), bytes.subarray(i)).lastObject();
      if (!got || got.eval_count !== 259) throw new Error(`split at byte ${i}: ${JSON.stringify(got)}`);
    }
  });

  test('split in three at many pairs of offsets', () => {
    const bytes = enc(NDJSON);
    for (let i = 0; i <= bytes.length; i += 7) {
      for (let j = i; j <= bytes.length; j += 5) {
        const got = track(bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)).lastObject();
        if (got?.eval_count !== 259) throw new Error(`split at ${i}/${j}: ${JSON.stringify(got)}`);
      }
    }
  });

  test('one byte at a time (multi-byte characters torn apart)', () => {
    const bytes = enc(NDJSON);
    const t = new FinalChunkTracker();
    for (let i = 0; i < bytes.length; i++) t.push(bytes.subarray(i, i + 1));
    expect(t.lastObject()).toEqual(FINAL);
  });

  test('the chunk buffers passed in may be reused by the caller afterwards', () => {
    const bytes = enc(NDJSON);
    const buf = new Uint8Array(bytes.length);
    const t = new FinalChunkTracker();
    buf.set(bytes);
    t.push(buf);
    buf.fill(0x20); // undici may recycle the buffer
    t.push(new Uint8Array(0));
    expect(t.lastObject()).toEqual(FINAL);
  });

  test('a final line without a trailing newline (load/unload replies, non-stream bodies)', () => {
    expect(track('{"a":1}\n{"done":true,"done_reason":"load"}').lastObject()).toEqual({ done: true, done_reason: 'load' });
    expect(track('{"model":"m",', '"done":true}').lastObject()).toEqual({ model: 'm', done: true });
  });

  test('trailing blank lines, spaces and CRLF are skipped', () => {
    expect(track('{"a":1}\r\n{"b":2}\r\n\r\n  \n').lastObject()).toEqual({ b: 2 });
    expect(track('{"a":1}\n', '\n', '\n').lastObject()).toEqual({ a: 1 });
  });

  test.each<[string, string[]]>([
    ['one event per chunk', ['data: {"id":1}\n\n', 'data: {"id":2}\n\n']],
    ['events split mid-line', ['data: {"id":1}\n\ndata: {"i', 'd":2}\n', '\n']],
    ['two events in one chunk', ['data: {"id":1}\n\ndata: {"id":2}\n\n']],
    ['a line ending in a blank line within the same chunk', ['data: {"id":1}\n', 'data: {"id":2}\n\n']],
  ])('SSE data: lines — %s', (_name, chunks) => {
    expect(track(...chunks).lastObject()).toEqual({ id: 2 });
  });

  test('SSE split at every byte offset', () => {
    const sse = enc('data: {"id":1,"choices":[]}\n\ndata: {"id":2,"usage":{"total_tokens":9}}\n\n');
    for (let i = 0; i <= sse.length; i++) {
      const got = track(sse.subarray(0, i), sse.subarray(i)).lastObject();
      if (got?.id !== 2) throw new Error(`split at byte ${i}: ${JSON.stringify(got)}`);
    }
  });

  test('an in-band error line is the last object', () => {
    const s = '{"response":"can","done":false}\n{"error":"an error was encountered while running the model"}\n';
    const bytes = enc(s);
    for (let i = 0; i <= bytes.length; i++) {
      const got = track(bytes.subarray(0, i), bytes.subarray(i)).lastObject();
      if (got?.error !== 'an error was encountered while running the model') throw new Error(`split at ${i}`);
    }
  });

  test.each<[string, string[]]>([
    ['an empty stream', []],
    ['only blank lines', ['\n\n', '  \n']],
    ['SSE [DONE]', ['data: {"id":1}\n\n', 'data: [DONE]\n\n']],
    ['a torn JSON line at the end', ['{"a":1}\n{"b":']],
    ['a JSON array', ['[1,2]\n']],
    ['plain text', ['hello\n']],
    ['JSON null', ['null\n']],
  ])('no object for %s', (_name, chunks) => {
    expect(track(...chunks).lastObject()).toBeUndefined();
  });

  test('lastObject can be read more than once', () => {
    const t = track(NDJSON);
    expect(t.lastObject()).toEqual(t.lastObject());
  });

  test('a final chunk longer than 64 KiB (a long `context`) still yields its durations', () => {
    const big = { ...FINAL, context: Array.from({ length: 20_000 }, (_, i) => 100_000 + i) };
    const text = `{"response":"a","done":false}\n${JSON.stringify(big)}\n`;
    expect(text.length).toBeGreaterThan(1 << 17);
    const bytes = enc(text);
    for (const size of [1_000, 16_384, 65_536, bytes.length]) {
      const t = new FinalChunkTracker();
      for (let i = 0; i < bytes.length; i += size) t.push(bytes.subarray(i, i + size));
      expect([size, statsOf(t.lastObject())]).toEqual([size, statsOf(FINAL)]);
    }
  });

  test('a large non-streamed /api/embed body (no newline) still yields its durations', () => {
    const body = {
      model: 'nomic-embed-text',
      embeddings: Array.from({ length: 20 }, () => Array.from({ length: 768 }, (_, i) => 0.012345678 * i)),
      total_duration: 14_143_917,
      load_duration: 1_019_500,
      prompt_eval_count: 8,
    };
    const bytes = enc(JSON.stringify(body));
    expect(bytes.length).toBeGreaterThan(1 << 17);
    const t = new FinalChunkTracker();
    for (let i = 0; i < bytes.length; i += 16_384) t.push(bytes.subarray(i, i + 16_384));
    expect(statsOf(t.lastObject())).toEqual({ loadMs: 1.0195, promptTokens: 8, promptEvalMs: 0, evalTokens: 0, evalMs: 0, totalMs: 14.143917 });
  });

  test('a truncated long line without durations gives nothing (no guessing from a torn line)', () => {
    expect(track('x'.repeat(200_000)).lastObject()).toBeUndefined();
    expect(track(`{"response":"${'是'.repeat(40_000)}","eval_count":5}`).lastObject()).toBeUndefined();
    expect(track('{"total_duration":5,"response":"cut').lastObject()).toBeUndefined(); // short and torn
  });

  test('a truncated line of multi-byte text still yields its durations', () => {
    const line = JSON.stringify({ model: 'm', response: '是'.repeat(40_000), done: true, total_duration: 2_000_000, eval_count: 7 });
    expect(statsOf(track(line).lastObject())).toMatchObject({ totalMs: 2, evalTokens: 7 });
  });

  test('a very long line does not grow memory without bound and does not crash', () => {
    const t = new FinalChunkTracker();
    const big = enc('x'.repeat(40_000));
    for (let i = 0; i < 10; i++) t.push(big);
    t.push(enc('\n{"done":true}\n'));
    expect(t.lastObject()).toEqual({ done: true });
  });
});

describe('statsOf', () => {
  test('converts a final chunk from ns to ms', () => {
    expect(statsOf(FINAL)).toEqual({
      loadMs: 6_338.219291,
      promptTokens: 26,
      promptEvalMs: 130.079,
      evalTokens: 259,
      evalMs: 4_232.71,
      totalMs: 10_706.818083,
    });
  });

  test.each<[string, Record<string, unknown> | undefined]>([
    ['undefined', undefined],
    ['a mid-stream chunk', { response: 'x', done: false }],
    ['an error line', { error: 'boom' }],
    ['done as a string', { done: 'true' }],
  ])('undefined for %s', (_name, obj) => {
    expect(statsOf(obj)).toBeUndefined();
  });

  test('an /api/embed response (no done, but total_duration) has stats', () => {
    expect(statsOf({ embeddings: [[0.1]], total_duration: 2_000_000, load_duration: 1_000_000, prompt_eval_count: 3 })).toEqual({
      loadMs: 1,
      promptTokens: 3,
      promptEvalMs: 0,
      evalTokens: 0,
      evalMs: 0,
      totalMs: 2,
    });
  });

  test('a load reply (done, no metrics) gives zeros; non-numbers count as 0', () => {
    expect(statsOf({ done: true, done_reason: 'load', eval_count: '5', load_duration: null })).toEqual({
      loadMs: 0,
      promptTokens: 0,
      promptEvalMs: 0,
      evalTokens: 0,
      evalMs: 0,
      totalMs: 0,
    });
  });
});
