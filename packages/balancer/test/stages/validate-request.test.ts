import { Route } from '@ollama-ring/protocol';
import type { RequestFacts, RequestRejection, ValidationLimits } from '../../src/stages/request-facts';
import { isRejection, priorityOf, signatureOf, validateRequest } from '../../src/stages/validate-request';

const LIMITS: ValidationLimits = { maxPromptLength: 100, allowedModels: [] };

function v(route: Route, body: unknown, limits: ValidationLimits = LIMITS): RequestFacts | RequestRejection {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  return validateRequest(route, bytes, limits);
}

function ok(route: Route, body: unknown, limits?: ValidationLimits): RequestFacts {
  const r = v(route, body, limits);
  if (isRejection(r)) throw new Error(`rejected: ${r.status} ${r.message}`);
  return r;
}

const NATIVE = [Route.Generate, Route.Chat, Route.Embed, Route.Embeddings] as const;
const OPENAI = [Route.OpenAIChat, Route.OpenAICompletions, Route.OpenAIEmbeddings] as const;
const ALL = [...NATIVE, ...OPENAI];

/** A minimal valid body for each route. */
function base(route: Route): Record<string, unknown> {
  switch (route) {
    case Route.Generate:
      return { model: 'm', prompt: 'hi' };
    case Route.Chat:
    case Route.OpenAIChat:
      return { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    case Route.Embed:
    case Route.OpenAIEmbeddings:
      return { model: 'm', input: 'hi' };
    case Route.Embeddings:
      return { model: 'm', prompt: 'hi' };
    case Route.OpenAICompletions:
      return { model: 'm', prompt: 'hi' };
  }
}

describe('validateRequest: framing, every route', () => {
  test.each(ALL)('route %i: an empty body is 400 "missing request body"', (route) => {
    expect(validateRequest(route, new Uint8Array(0), LIMITS)).toEqual({ status: 400, message: 'missing request body' });
  });

  test.each(ALL.flatMap((r) => ['{', '{"model":', 'nope', '{"model":"m",}'].map((b) => [r, b] as const)))('route %i: bad JSON %p is 400', (route, body) => {
    const r = v(route, body);
    expect(isRejection(r) && r.status).toBe(400);
    expect((r as RequestRejection).message).toMatch(/invalid JSON/);
  });

  test.each(ALL.flatMap((r) => ['[]', '"m"', '42', 'null', 'true'].map((b) => [r, b] as const)))('route %i: the non-object %s is 400', (route, body) => {
    expect(v(route, body)).toEqual({ status: 400, message: 'json: cannot unmarshal non-object into the request body' });
  });

  test.each(ALL)('route %i: the minimal body is valid', (route) => {
    expect(isRejection(v(route, base(route)))).toBe(false);
  });

  test.each(ALL)('route %i: nesting up to 10,000 levels is valid (as in Ollama), deeper is 400', (route) => {
    // The body's object is level 1; the arrays under `x` take the rest.
    const body = (depth: number) => JSON.stringify(base(route)).replace(/}$/, `,"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`);
    expect(isRejection(v(route, body(10_000)))).toBe(false);
    expect(v(route, body(10_001))).toEqual({ status: 400, message: 'invalid JSON: nested more than 10000 levels deep' });
  });
});

describe('validateRequest: field types', () => {
  test.each<[Route, string, unknown, string]>([
    [Route.Generate, 'model', 42, 'json: cannot unmarshal number into Go struct field .model of type string'],
    [Route.Generate, 'prompt', ['a'], 'json: cannot unmarshal array into Go struct field .prompt of type string'],
    [Route.Generate, 'system', {}, 'json: cannot unmarshal object into Go struct field .system of type string'],
    [Route.Generate, 'stream', 'yes', 'json: cannot unmarshal string into Go struct field .stream of type bool'],
    [Route.Generate, 'raw', 1, 'json: cannot unmarshal number into Go struct field .raw of type bool'],
    [Route.Generate, 'options', [], 'json: cannot unmarshal array into Go struct field .options of type object'],
    [Route.Generate, 'options', 'x', 'json: cannot unmarshal string into Go struct field .options of type object'],
    [Route.Chat, 'messages', {}, 'json: cannot unmarshal object into Go struct field .messages of type array'],
    [Route.Chat, 'messages', 'hi', 'json: cannot unmarshal string into Go struct field .messages of type array'],
    [Route.Embed, 'model', true, 'json: cannot unmarshal bool into Go struct field .model of type string'],
    [Route.OpenAIChat, 'model', 1, 'json: cannot unmarshal number into Go struct field .model of type string'],
    [Route.OpenAIChat, 'stream', 'true', 'json: cannot unmarshal string into Go struct field .stream of type bool'],
    [Route.OpenAIChat, 'messages', {}, 'json: cannot unmarshal object into Go struct field .messages of type array'],
    [Route.OpenAICompletions, 'prompt', 5, 'json: cannot unmarshal number into Go struct field .prompt of type string'],
  ])('route %i: %s = %p → 400 %p', (route, field, value, message) => {
    expect(v(route, { ...base(route), [field]: value })).toEqual({ status: 400, message });
  });

  test.each<[Route, string]>([
    [Route.Generate, 'prompt'],
    [Route.Generate, 'options'],
    [Route.Generate, 'stream'],
    [Route.Chat, 'messages'],
    [Route.OpenAICompletions, 'stream'],
  ])('route %i: %s = null is accepted as absent', (route, field) => {
    expect(isRejection(v(route, { ...base(route), [field]: null }))).toBe(false);
  });

  test('OpenAI completions take a prompt array', () => {
    const f = ok(Route.OpenAICompletions, { model: 'm', prompt: ['ab', 'cd', 7] });
    expect(f.promptTokens).toBe(1);
  });
});

describe('validateRequest: missing or empty model (ollama-api.md §4)', () => {
  // Native: generate and embed answer 404 model '' not found; chat and embeddings 400 model is required.
  // OpenAI routes: 400 model is required.
  const cases: [Route, number, string][] = [
    [Route.Generate, 404, "model '' not found"],
    [Route.Embed, 404, "model '' not found"],
    [Route.Chat, 400, 'model is required'],
    [Route.Embeddings, 400, 'model is required'],
    [Route.OpenAIChat, 400, 'model is required'],
    [Route.OpenAICompletions, 400, 'model is required'],
    [Route.OpenAIEmbeddings, 400, 'model is required'],
  ];
  test.each(cases.flatMap(([r, s, m]) => [undefined, '', '   ', null].map((model) => [r, model, s, m] as const)))('route %i, model %p → %i %p', (route, model, status, message) => {
    const body = { ...base(route) };
    if (model === undefined) delete body.model;
    else body.model = model;
    expect(v(route, body)).toEqual({ status, message });
  });
});

describe('validateRequest: native checks', () => {
  test.each<[string, Record<string, unknown>]>([
    ['template', { template: '{{ .Prompt }}' }],
    ['system', { system: 'be brief' }],
    ['context', { context: [1, 2, 3] }],
  ])('raw with a non-empty %s is 400', (_name, extra) => {
    expect(v(Route.Generate, { model: 'm', prompt: 'p', raw: true, ...extra })).toEqual({
      status: 400,
      message: 'raw mode does not support template, system, or context',
    });
  });

  test.each<[string, Record<string, unknown>]>([
    ['no extras', {}],
    ['an empty system', { system: '' }],
    ['an empty template', { template: '' }],
    ['an empty context', { context: [] }],
    ['all three empty', { system: '', template: '', context: [] }],
  ])('raw with %s is accepted, as Ollama does (it tests for non-empty values)', (_name, extra) => {
    expect(isRejection(v(Route.Generate, { model: 'm', prompt: 'p', raw: true, ...extra }))).toBe(false);
  });

  test('raw: false with template and system is fine', () => {
    expect(isRejection(v(Route.Generate, { model: 'm', raw: false, template: 't', system: 's' }))).toBe(false);
  });

  test.each<[unknown, boolean]>([
    ['text', true],
    [['a', 'b'], true],
    [[], true],
    [null, true], // no input: a load, as Ollama treats it
    [42, false],
    [['a', 1], false],
    [{ text: 'a' }, false],
  ])('/api/embed input %p valid: %p', (input, valid) => {
    const r = v(Route.Embed, { model: 'm', input });
    if (valid) expect(isRejection(r)).toBe(false);
    else expect(r).toEqual({ status: 400, message: 'invalid input type' });
  });

  test('/api/embed without input loads the model (valid)', () => {
    expect(isRejection(v(Route.Embed, { model: 'm' }))).toBe(false);
  });

  test.each<[string, unknown, string | null]>([
    ['num_ctx', 8192, null],
    ['num_ctx', 8192.5, 'option "num_ctx" must be of type integer'],
    ['num_ctx', '8192', 'option "num_ctx" must be of type integer'],
    ['num_batch', true, 'option "num_batch" must be of type integer'],
    ['num_gpu', 0, null],
    ['num_gpu', -1, null],
    ['use_mmap', false, null],
    ['use_mmap', 'false', 'option "use_mmap" must be of type boolean'],
    ['use_mmap', 0, 'option "use_mmap" must be of type boolean'],
    ['temperature', 'hot', null], // not a reload option: left to Ollama
  ])('option %s = %p → %p', (k, value, message) => {
    for (const route of NATIVE) {
      const r = v(route, { ...base(route), options: { [k]: value } });
      if (message === null) expect(isRejection(r)).toBe(false);
      else expect(r).toEqual({ status: 400, message });
    }
  });
});

describe('validateRequest: prompt length limit', () => {
  const L: ValidationLimits = { maxPromptLength: 10, allowedModels: [] };
  test.each<[Route, Record<string, unknown>, number]>([
    [Route.Generate, { prompt: '0123456789' }, 10],
    [Route.Generate, { prompt: '01234', system: '56789' }, 10],
    [Route.Generate, { prompt: '0123456789', system: 'x' }, 11],
    [Route.Chat, { messages: [{ content: '01234' }, { content: '567890' }] }, 11],
    [Route.Chat, { messages: [{ content: [{ type: 'text', text: '0123456' }, { type: 'image' }] }, { content: '7890' }] }, 11],
    [Route.Chat, { messages: [null, { content: 5 }, { content: '0123456789' }] }, 10],
    [Route.Embed, { input: ['01234', '567890'] }, 11],
    [Route.Embeddings, { prompt: '0123456789x' }, 11],
    [Route.OpenAIChat, { messages: [{ role: 'user', content: '0123456789x' }] }, 11],
    [Route.OpenAICompletions, { prompt: ['01234', '567890'] }, 11],
    [Route.OpenAIEmbeddings, { input: '0123456789x' }, 11],
  ])('route %i %j: %i characters', (route, extra, length) => {
    const r = v(route, { model: 'm', ...extra }, L);
    if (length <= 10) {
      expect(isRejection(r)).toBe(false);
      expect((r as RequestFacts).promptTokens).toBe(Math.ceil(length / 4));
    } else {
      expect(r).toEqual({ status: 400, message: `prompt is too long: ${length} characters, the limit is 10` });
    }
  });

  test('a generate prompt does not count embed inputs, nor an embed count prompts twice', () => {
    const f = ok(Route.Generate, { model: 'm', prompt: 'abcd', input: 'x'.repeat(1_000) });
    expect(f.promptTokens).toBe(1);
  });

  test('tools: a request that offers some is marked (no learned deadline fits its gaps)', () => {
    expect(ok(Route.Chat, { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] }).tools).toBe(true);
    expect(ok(Route.Chat, { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [] }).tools).toBeUndefined();
    expect(ok(Route.OpenAIChat, { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] }).tools).toBe(true);
  });

  test('tokens: four ASCII characters a token, every other character one (a CJK prompt is not four times short)', () => {
    expect(ok(Route.Generate, { model: 'm', prompt: 'abcdefgh' }).promptTokens).toBe(2);
    expect(ok(Route.Generate, { model: 'm', prompt: '你好世界，今天天气很好' }).promptTokens).toBe(11);
    // ASCII around non-ASCII; an emoji (a surrogate pair) is one.
    expect(ok(Route.Generate, { model: 'm', prompt: 'abcd 😀 efgh' }).promptTokens).toBe(Math.ceil(10 / 4) + 1);
  });
});

describe('validateRequest: allowedModels', () => {
  const L: ValidationLimits = { maxPromptLength: 100, allowedModels: ['llama3.2:latest', 'qwen:7b'] };
  test.each<[string, boolean]>([
    ['llama3.2', true],
    ['LLaMA3.2:latest', true],
    ['qwen:7b', true],
    ['qwen', false],
    ['mistral', false],
  ])('%s allowed: %p', (model, allowed) => {
    for (const route of ALL) {
      const r = v(route, { ...base(route), model }, L);
      if (allowed) expect(isRejection(r)).toBe(false);
      else expect(r).toEqual({ status: 403, message: `model '${model}' is not allowed on this gateway` });
    }
  });
});

describe('validateRequest: facts', () => {
  test.each<[Route, unknown, boolean]>([
    [Route.Generate, undefined, true],
    [Route.Generate, true, true],
    [Route.Generate, false, false],
    [Route.Chat, undefined, true],
    [Route.Chat, false, false],
    [Route.Embed, true, false],
    [Route.Embeddings, undefined, false],
    [Route.OpenAIChat, undefined, false],
    [Route.OpenAIChat, true, true],
    [Route.OpenAICompletions, undefined, false],
    [Route.OpenAICompletions, true, true],
    [Route.OpenAIEmbeddings, undefined, false],
  ])('route %i with stream %p streams: %p', (route, stream, expected) => {
    expect(ok(route, { ...base(route), stream }).stream).toBe(expected);
  });

  test('the model is normalised, the raw name kept', () => {
    const f = ok(Route.Chat, { model: 'LLaMA3.2', messages: [] });
    expect([f.rawModel, f.model]).toEqual(['LLaMA3.2', 'llama3.2:latest']);
  });

  test.each<[Record<string, unknown>, string]>([
    [{}, ''],
    [{ temperature: 0.1, seed: 3 }, ''],
    [{ num_ctx: 8192 }, 'num_ctx=8192'],
    [{ use_mmap: false, num_ctx: 4096, temperature: 1 }, 'num_ctx=4096,use_mmap=false'],
    [{ num_gpu: 0, num_batch: 512, num_ctx: 2048, use_mmap: true }, 'num_ctx=2048,num_batch=512,num_gpu=0,use_mmap=true'],
  ])('options %j → signature %p', (options, sig) => {
    expect(signatureOf(options)).toBe(sig);
    expect(ok(Route.Generate, { model: 'm', options }).optionsSignature).toBe(sig);
    // The same options in another key order give the same signature.
    const reversed = Object.fromEntries(Object.entries(options).reverse());
    expect(ok(Route.Chat, { model: 'm', options: reversed }).optionsSignature).toBe(sig);
  });

  test.each<[string, Route, Record<string, unknown>, number | undefined]>([
    ['Ollama options.num_predict', Route.Generate, { options: { num_predict: 128 } }, 128],
    ['Ollama chat too', Route.Chat, { options: { num_predict: 16 } }, 16],
    ['OpenAI max_tokens', Route.OpenAIChat, { max_tokens: 64 }, 64],
    ['OpenAI max_completion_tokens', Route.OpenAIChat, { max_completion_tokens: 32 }, 32],
    ['OpenAI completions', Route.OpenAICompletions, { max_tokens: 8 }, 8],
    ['no cap', Route.Generate, {}, undefined],
    ['-1 (until the context is full) is no cap', Route.Generate, { options: { num_predict: -1 } }, undefined],
    ['-2 is no cap', Route.Generate, { options: { num_predict: -2 } }, undefined],
    ['0 is no cap', Route.Generate, { options: { num_predict: 0 } }, undefined],
    ['a fraction is floored', Route.Generate, { options: { num_predict: 20.7 } }, 20],
    ['a string is not a cap', Route.Generate, { options: { num_predict: '99' } }, undefined],
    ['the words in a prompt are not a cap', Route.Generate, { prompt: 'set "num_predict": 999 please' }, undefined],
  ])('output cap: %s', (_name, route, extra, cap) => {
    expect(ok(route, { ...base(route), ...extra }).outputTokens).toBe(cap);
  });

  test('OpenAI requests have the default signature', () => {
    expect(ok(Route.OpenAIChat, { ...base(Route.OpenAIChat), options: { num_ctx: 8192 } }).optionsSignature).toBe('');
  });

  test.each<[Record<string, unknown>, string[]]>([
    [{}, []],
    [{ instance_tags: ['gpu', 'fast'] }, ['gpu', 'fast']],
    [{ instance_tags: ['gpu', 3, null, 'x'] }, ['gpu', 'x']],
    [{ instance_tags: 'gpu' }, []],
    [{ require_gpu: true }, ['gpu']],
    [{ require_gpu: 'true' }, []],
    [{ require_gpu: true, instance_tags: ['gpu'] }, ['gpu']],
    [{ require_gpu: true, instance_tags: ['fast'] }, ['fast', 'gpu']],
    [{ require_gpu: false, instance_tags: ['fast'] }, ['fast']],
  ])('tags from %j → %j', (extra, tags) => {
    for (const route of ALL) expect(ok(route, { ...base(route), ...extra }).tags).toEqual(tags);
  });

  test.each<[Record<string, unknown>, Partial<RequestFacts>]>([
    [{}, {}],
    [{ priority: 5 }, { priority: 5 }],
    [{ priority: 2.9 }, { priority: 2 }],
    [{ priority: -3 }, { priority: -3 }],
    [{ priority: 'high' }, { priority: 10 }],
    [{ priority: 'HIGH' }, { priority: 10 }],
    [{ priority: 'normal' }, { priority: 0 }],
    [{ priority: 'low' }, { priority: -10 }],
    [{ priority: '7' }, { priority: 7 }],
    [{ priority: 'urgent' }, {}],
    [{ priority: '' }, {}],
    [{ priority: true }, {}],
    [{ load_balancing_strategy: 'round_robin' }, { strategy: 'round_robin' }],
    [{ load_balancing_strategy: 3 }, {}],
    [{ fallback_model: 'small' }, { fallbackModel: 'small' }],
    [{ fallback_model: '' }, {}],
    [{ fallback_model: 5 }, {}],
    [{ max_latency: 2_500 }, { latencyBudgetMs: 2_500 }],
    [{ max_latency: 0 }, {}],
    [{ max_latency: -5 }, {}],
    [{ max_latency: '2500' }, {}],
    [{ complexity: ' High ' }, { complexity: 'high' }],
    [{ complexity: '' }, {}],
    [{ complexity: 3 }, {}],
    [{ complexity: 'x'.repeat(65) }, {}],
  ])('hints %j → %j', (extra, hints) => {
    for (const route of ALL) {
      const f = ok(route, { ...base(route), ...extra });
      const got: Partial<RequestFacts> = {};
      for (const k of ['priority', 'strategy', 'fallbackModel', 'latencyBudgetMs', 'complexity'] as const) {
        if (k in f) (got as Record<string, unknown>)[k] = f[k];
      }
      expect(got).toEqual(hints);
    }
  });

  test('facts survive a JSON round trip unchanged (they travel through the arena as JSON)', () => {
    const f = ok(Route.Generate, { model: 'm', prompt: 'p', priority: 'high', instance_tags: ['gpu'], max_latency: 10 });
    expect(JSON.parse(JSON.stringify(f))).toEqual(f);
  });
});

describe('priorityOf', () => {
  test.each<[unknown, number | undefined]>([
    [3, 3],
    [-0.5, -0],
    [NaN, undefined],
    [Infinity, undefined],
    ['high', 10],
    ['Low', -10],
    [' 4 ', 4],
    ['1e2', 100],
    ['  ', undefined],
    [null, undefined],
    [{}, undefined],
    // Names that exist on every object's prototype are not priorities.
    ['constructor', undefined],
    ['toString', undefined],
    ['__proto__', undefined],
    ['hasOwnProperty', undefined],
  ])('%p → %p', (input, expected) => {
    expect(priorityOf(input)).toBe(expected);
  });
});
