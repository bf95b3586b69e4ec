import { MAX_JSON_DEPTH, jsonDepthError, toJson } from '@ollama-ring/protocol';

const bytes = (s: string) => new TextEncoder().encode(s);
const arrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('jsonDepthError', () => {
  test("the limit is Go's encoding/json's, so Ollama's: 10,000 levels", () => {
    expect(MAX_JSON_DEPTH).toBe(10_000);
  });

  test.each<[string, string, boolean]>([
    ['exactly the limit', arrays(10_000), false],
    ['one past it', arrays(10_001), true],
    ['objects count as arrays do', '{"a":'.repeat(10_001) + '1' + '}'.repeat(10_001), true],
    ['siblings do not add up', `[${Array.from({ length: 3 }, () => arrays(9_000)).join(',')}]`, false],
    ['brackets inside strings are text', `{"s":"${'['.repeat(20_000)}"}`, false],
    ['an escaped quote does not end the string', `{"s":"\\"${'['.repeat(20_000)}"}`, false],
    ['a string that ends in a backslash pair does end', `{"s":"\\\\","d":${arrays(10_001)}}`, true],
    ['multi-byte text around the brackets', `{"é":"ü${'['.repeat(20_000)}","d":${arrays(9_999)}}`, false],
  ])('%s', (_name, text, tooDeep) => {
    const m = jsonDepthError(bytes(text));
    expect(m !== undefined).toBe(tooDeep);
    if (m) expect(m).toBe('invalid JSON: nested more than 10000 levels deep');
  });

  test('a body no longer than the limit is not scanned; a smaller limit can be given', () => {
    expect(jsonDepthError(bytes('[[['))).toBeUndefined();
    expect(jsonDepthError(bytes(arrays(3)), 2)).toBe('invalid JSON: nested more than 2 levels deep');
  });
});

describe('toJson', () => {
  const sym = Symbol('s');
  test.each<[string, unknown]>([
    ['an object', { a: 1, b: 'x', c: [true, null], d: { e: 'é "q"' } }],
    ['members JSON leaves out, items it nulls', { u: undefined, f: () => 1, s: sym, a: [undefined, () => 1, sym, NaN, Infinity] }],
    ['toJSON', { when: new Date(0), custom: { toJSON: (k: string) => `key ${k}` } }],
    ['empty ones', { a: [], o: {}, n: [[], {}] }],
    ['a string', 'x'],
    ['undefined', undefined],
  ])('the same text as JSON.stringify: %s', (_name, v) => {
    expect(toJson(v)).toBe(JSON.stringify(v));
  });

  test('any depth, where JSON.stringify overflows the stack: the same text, written without recursion', () => {
    for (const levels of [10_000, 100_000]) {
      const text = `{"options":{"deep":${arrays(levels)},"after":[1,{"k":"v"}]},"model":"m"}`;
      const v = JSON.parse(text) as Record<string, unknown>;
      expect(() => JSON.stringify(v)).toThrow(RangeError);
      expect(toJson(v)).toBe(text);
      expect(toJson({ ...v, stream: true })).toBe(`${text.slice(0, -1)},"stream":true}`);
    }
  });

  test('deep, with members left out and toJSON on the way', () => {
    const v = JSON.parse(`{"d":${arrays(20_000)}}`) as { d: unknown[]; x?: unknown; when?: Date };
    v.x = undefined;
    v.when = new Date(0);
    expect(toJson(v)).toBe(`{"d":${arrays(20_000)},"when":"1970-01-01T00:00:00.000Z"}`);
  });

  test('a cycle or a bigint throws a TypeError, as JSON.stringify does, at any depth', () => {
    const deep = JSON.parse(`{"d":${arrays(20_000)}}`) as { d: unknown[]; self?: unknown; n?: bigint };
    deep.self = deep;
    expect(() => toJson(deep)).toThrow(TypeError);
    delete deep.self;
    deep.n = 1n;
    expect(() => toJson(deep)).toThrow(TypeError);
  });
});
