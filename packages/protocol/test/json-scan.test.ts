import { setStreamTrue, topLevelValue } from '../src/json-scan';

const enc = (s: string) => new TextEncoder().encode(s);
const valueOf = (s: string, key: string): string | undefined => {
  const b = enc(s);
  const span = topLevelValue(b, key);
  return span && new TextDecoder().decode(b.subarray(span.start, span.end));
};

describe('topLevelValue', () => {
  test.each([
    ['{"stream":false}', 'false'],
    ['{ "model" : "m" , "stream" : false }', 'false'],
    ['{"stream":true,"x":1}', 'true'],
    ['{"options":{"stream":false},"stream":null}', 'null'],
    ['{"a":[1,{"stream":1}],"stream":[1,2]}', '[1,2]'],
    ['{"stream":{"deep":{"x":"}"}}}', '{"deep":{"x":"}"}}'],
    ['{"prompt":"say \\"stream\\":false","stream":false}', 'false'],
    ['{"prompt":"ends in a backslash \\\\","stream":"x"}', '"x"'],
    ['{"stream":false,"stream":true}', 'true'],
    ['{"streams":false}', undefined],
    ['{"prompt":"\\"stream\\": false"}', undefined],
    ['[{"stream":false}]', undefined],
  ])('%s → %s', (json, want) => {
    expect(valueOf(json, 'stream')).toBe(want);
  });

  test('skips megabytes of string quickly, and finds a key after them', () => {
    const big = `{"images":["${'A'.repeat(8_000_000)}"],"stream":false}`;
    expect(valueOf(big, 'stream')).toBe('false');
  });
});

describe('setStreamTrue', () => {
  test('rewrites a top-level false in place, same length, still valid JSON', () => {
    const b = enc('{"model":"m","options":{"stream":false},"stream" : false, "prompt":"stream: false"}');
    const len = b.length;
    expect(setStreamTrue(b)).toBe(true);
    expect(b.length).toBe(len);
    expect(JSON.parse(new TextDecoder().decode(b))).toEqual({ model: 'm', options: { stream: false }, stream: true, prompt: 'stream: false' });
  });

  test('changes nothing without a top-level false', () => {
    for (const s of ['{"stream":true}', '{"model":"m"}', '{"stream":"false"}', '{"options":{"stream":false}}']) {
      const b = enc(s);
      expect(setStreamTrue(b)).toBe(false);
      expect(new TextDecoder().decode(b)).toBe(s);
    }
  });
});
