import { Route, apportion, canonicalJson, embedAnswerOf, embedCallOf } from '../src';

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('embedCallOf', () => {
  it('reads the three APIs into one upstream form, keyed by everything but the input', () => {
    const a = embedCallOf(Route.Embed, bytes({ model: 'm', input: 'hi', options: { b: 1, a: 2 }, truncate: true }))!;
    const b = embedCallOf(Route.Embed, bytes({ truncate: true, options: { a: 2, b: 1 }, input: ['x', 'y'], model: 'm' }))!;
    expect(a.inputs).toEqual(['hi']);
    expect(b.inputs).toEqual(['x', 'y']);
    expect(a.key).toBe(b.key);
    const o = embedCallOf(Route.OpenAIEmbeddings, bytes({ model: 'm', input: 'hi', encoding_format: 'base64', user: 'u' }))!;
    expect(o).toMatchObject({ shape: 'openai', encoding: 'base64', common: { model: 'm' } });
    // OpenAI's call is Ollama's with the default options: the two may share a call.
    expect(o.key).toBe(embedCallOf(Route.Embed, bytes({ model: 'm', input: 'z' }))!.key);
    expect(embedCallOf(Route.Embeddings, bytes({ model: 'm', prompt: 'p' }))).toMatchObject({ shape: 'legacy', inputs: ['p'] });
  });

  it('keeps apart calls whose options differ', () => {
    const keys = [{ dimensions: 4 }, { truncate: false }, { keep_alive: '1m' }, { options: { num_ctx: 64 } }, {}].map(
      (x) => embedCallOf(Route.Embed, bytes({ model: 'm', input: 'a', ...x }))!.key,
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('passes on what is not a plain call', () => {
    for (const body of [
      { model: 'm', input: '' },
      { model: 'm' },
      { model: 'm', input: [] },
      { model: 'm', input: [1, 2] },
      { model: '', input: 'a' },
      { model: 'm', input: 'a', priority: 'high' },
      [1],
    ]) {
      expect(embedCallOf(Route.Embed, bytes(body))).toBeUndefined();
    }
    expect(embedCallOf(Route.Embed, new TextEncoder().encode('{not json'))).toBeUndefined();
    expect(embedCallOf(Route.Chat, bytes({ model: 'm', input: 'a' }))).toBeUndefined();
    expect(embedCallOf(Route.OpenAIEmbeddings, bytes({ model: 'm', input: [[1, 2]] }))).toBeUndefined();
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(embedCallOf(Route.Embed, bytes({ model: 'm', input: 'a', options: deep }))).toBeUndefined();
  });
});

describe('embedAnswerOf', () => {
  const share = { vectors: [[0.6, 0.8]], promptTokens: 3, totalDuration: 10, loadDuration: 2 };
  it("answers in each API's shape", () => {
    expect(embedAnswerOf(embedCallOf(Route.Embed, bytes({ model: 'm', input: 'a' }))!, share)).toEqual({
      model: 'm',
      embeddings: [[0.6, 0.8]],
      total_duration: 10,
      load_duration: 2,
      prompt_eval_count: 3,
    });
    expect(embedAnswerOf(embedCallOf(Route.Embeddings, bytes({ model: 'm', prompt: 'a' }))!, share)).toEqual({ embedding: [0.6, 0.8] });
    expect(embedAnswerOf(embedCallOf(Route.OpenAIEmbeddings, bytes({ model: 'm', input: 'a' }))!, share)).toEqual({
      object: 'list',
      data: [{ object: 'embedding', embedding: [0.6, 0.8], index: 0 }],
      model: 'm',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    const b64 = embedAnswerOf(embedCallOf(Route.OpenAIEmbeddings, bytes({ model: 'm', input: 'a', encoding_format: 'base64' }))!, share) as { data: { embedding: string }[] };
    const buf = Buffer.from(b64.data[0].embedding, 'base64');
    expect([buf.readFloatLE(0), buf.readFloatLE(4)].map((x) => Math.round(x * 100) / 100)).toEqual([0.6, 0.8]);
  });
});

describe('apportion', () => {
  it('splits a total in proportion, in whole numbers that add up', () => {
    expect(apportion(10, [1, 1, 2])).toEqual([3, 2, 5]);
    expect(apportion(7, [0, 0])).toEqual([4, 3]);
    expect(apportion(0, [5, 1])).toEqual([0, 0]);
    for (const [t, w] of [
      [101, [3, 7, 11, 13]],
      [5, [1, 1, 1, 1, 1, 1, 1]],
    ] as const)
      expect(apportion(t, w).reduce((a, b) => a + b, 0)).toBe(t);
  });
});

it('canonicalJson sorts keys at every depth', () => {
  expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
});
