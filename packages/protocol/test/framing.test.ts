import { FinalChunkTracker, LineSplitter, SSE_DONE, inBandErrorOf, isStreamContentType, ndjsonLine, parseStreamLine, sseEvent } from '@ollama-ring/protocol';

describe('writers', () => {
  test('NDJSON lines and SSE events', () => {
    expect(ndjsonLine({ a: 1 })).toBe('{"a":1}\n');
    expect(sseEvent('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
  });

  test.each<[string, boolean]>([
    ['application/x-ndjson', true],
    ['text/event-stream; charset=utf-8', true],
    ['application/json; charset=utf-8', false],
  ])('isStreamContentType(%p) = %p', (type, expected) => expect(isStreamContentType(type)).toBe(expected));
});

describe('LineSplitter', () => {
  test('lines across chunks, multi-byte characters torn apart, a last line without a newline', () => {
    const bytes = Buffer.from('{"a":"☀️"}\n{"b":2}\n{"c":3}', 'utf8');
    const s = new LineSplitter();
    const lines: string[] = [];
    for (let i = 0; i < bytes.length; i++) lines.push(...s.push(bytes.subarray(i, i + 1)));
    expect(lines).toEqual(['{"a":"☀️"}', '{"b":2}']);
    expect(s.end()).toBe('{"c":3}');
    expect(s.end()).toBe('');
  });

  test('strings pass through', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.push('c\n\n')).toEqual(['bc', '']);
  });
});

describe('parseStreamLine', () => {
  test.each<[string, Record<string, unknown> | undefined]>([
    ['{"done":true}', { done: true }],
    ['  {"done":true}\r', { done: true }],
    ['data: {"id":"x"}', { id: 'x' }],
    ['data: [DONE]', undefined],
    ['', undefined],
    ['[1,2]', undefined],
    ['{"torn":', undefined],
    ['event: ping', undefined],
  ])('%p → %p', (line, expected) => expect(parseStreamLine(line)).toEqual(expected));
});

describe('inBandErrorOf', () => {
  test('any object whose error is a string, as the ollama client reads it', () => {
    expect(inBandErrorOf({ error: 'boom' })).toBe('boom');
    expect(inBandErrorOf({ error: 'boom', status: 500 })).toBe('boom');
    expect(inBandErrorOf({ error: { message: 'x' } })).toBeUndefined();
    expect(inBandErrorOf({ done: true })).toBeUndefined();
    expect(inBandErrorOf(undefined)).toBeUndefined();
  });
});

describe('FinalChunkTracker', () => {
  test('the last object of an SSE stream ending in [DONE] is not [DONE]', () => {
    const t = new FinalChunkTracker();
    t.push(Buffer.from('data: {"id":"a"}\n\ndata: {"id":"b","usage":{}}\n\n'));
    expect(t.lastObject()).toEqual({ id: 'b', usage: {} });
  });

  test('unterminated: an SSE stream whose last line is not [DONE] (Ollama cuts a failed one so); never NDJSON', () => {
    const sse = (text: string) => {
      const t = new FinalChunkTracker('text/event-stream; charset=utf-8');
      t.push(Buffer.from(text));
      return t.unterminated();
    };
    expect(sse('data: {"id":"a"}\n\ndata: [DONE]\n\n')).toBe(false);
    expect(sse('data: {"id":"a"}\n\ndata: [DONE]')).toBe(false);
    expect(sse('data: {"id":"a"}\n\ndata: {"id":"a","choices":[{"delta":{"content":""}}]}\n\n')).toBe(true);
    expect(sse('')).toBe(true);
    const ndjson = new FinalChunkTracker('application/x-ndjson');
    ndjson.push(Buffer.from('{"response":"a","done":false}\n'));
    expect(ndjson.unterminated()).toBe(false);
    expect(new FinalChunkTracker().unterminated()).toBe(false);
  });
});
