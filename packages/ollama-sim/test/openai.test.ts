/**
 * The `/v1` layer with the official `openai` client, unchanged, plus raw fetch where the client hides
 * the bytes (SSE framing, [DONE], the mid-stream error artefact).
 */
import OpenAI, { APIError } from 'openai';
import { EMBEDDER, node, postJson, sseData, withPool } from './helpers';

function client(url: string): OpenAI {
  // maxRetries 0: the SDK retries 5xx by itself, which would hide the sim's answers.
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
}

describe('OpenAI-compatible API', () => {
  let url = '';
  let close: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    const { startSimPool } = await import('@ollama-ring/ollama-sim');
    const pool = await startSimPool({ nodes: [node()] });
    url = pool.nodes[0].url;
    close = () => pool.close();
  });
  afterAll(() => close());

  it('answers a chat completion with Ollama-shaped fields and usage', async () => {
    const r = await client(url).chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.id).toMatch(/^chatcmpl-\d{1,3}$/);
    expect(r.object).toBe('chat.completion');
    expect(r.system_fingerprint).toBe('fp_ollama');
    expect(r.choices[0].message.role).toBe('assistant');
    expect(r.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    const limited = await client(url).chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(limited.choices[0].finish_reason).toBe('length');
    expect(limited.usage!.completion_tokens).toBe(2);
  });

  it('streams chat chunks: role once, a finish chunk, usage on request, [DONE]', async () => {
    const chunks = [];
    const stream = await client(url).chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    for await (const c of stream) chunks.push(c);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.slice(1).every((c) => c.choices.length === 0 || c.choices[0].delta.role === undefined)).toBe(true);
    const finish = chunks[chunks.length - 2];
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'stop' });
    const usage = chunks[chunks.length - 1];
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.completion_tokens).toBe(chunks.length - 2);
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);

    const res = await postJson(url + '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const data = await sseData(res);
    expect(data[data.length - 1]).toBe('[DONE]');
    expect(Object.keys(JSON.parse(data[0]))).toEqual(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices']);
  });

  it('reports reasoning and tool calls the OpenAI way', async () => {
    const c = client(url);
    const r = await c.chat.completions.create({ model: 'thinker:8b', messages: [{ role: 'user', content: 'think' }] });
    expect((r.choices[0].message as unknown as { reasoning?: string }).reasoning?.length).toBeGreaterThan(0);
    const none = await c.chat.completions.create({ model: 'thinker:8b', messages: [{ role: 'user', content: 'think' }], reasoning_effort: 'none' as 'low' });
    expect((none.choices[0].message as unknown as { reasoning?: string }).reasoning).toBeUndefined();

    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }];
    const t = await c.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'find it' }], tools });
    expect(t.choices[0].finish_reason).toBe('tool_calls');
    const call = t.choices[0].message.tool_calls![0] as { id: string; type: string; function: { name: string; arguments: string } };
    expect(call.type).toBe('function');
    expect(call.function.name).toBe('lookup');
    expect(typeof JSON.parse(call.function.arguments).q).toBe('string');

    const streamed = [];
    for await (const ch of await c.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'find it' }], tools, stream: true })) streamed.push(ch);
    expect(streamed.some((ch) => ch.choices[0]?.delta.tool_calls?.[0].function?.name === 'lookup')).toBe(true);
    expect(streamed[streamed.length - 1].choices[0].finish_reason).toBe('tool_calls');
  });

  it('completes text, streamed and not', async () => {
    const c = client(url);
    const r = await c.completions.create({ model: 'tiny', prompt: 'Once upon a time' });
    expect(r.id).toMatch(/^cmpl-\d{1,3}$/);
    expect(r.object).toBe('text_completion');
    expect(r.choices[0].text.length).toBeGreaterThan(0);
    const parts = [];
    for await (const ch of await c.completions.create({ model: 'tiny', prompt: 'Once upon a time', stream: true })) parts.push(ch);
    expect(parts.map((p) => p.choices[0].text).join('')).toBe(r.choices[0].text);
    expect(parts[parts.length - 1].choices[0].finish_reason).toBe('stop');
    const data = await sseData(await postJson(url + '/v1/completions', { model: 'tiny', prompt: 'x', stream: true }));
    expect(Object.keys(JSON.parse(data[0]))).toEqual(['id', 'object', 'created', 'choices', 'model', 'system_fingerprint']);
  });

  it('embeds as floats and as base64 little-endian float32', async () => {
    const c = client(url);
    const f = await c.embeddings.create({ model: 'embedder', input: ['a', 'b'], encoding_format: 'float' });
    expect(f.object).toBe('list');
    expect(f.data.map((d) => d.index)).toEqual([0, 1]);
    expect(f.data[0].embedding).toHaveLength(EMBEDDER.embeddingLength!);
    const raw = (await (await postJson(url + '/v1/embeddings', { model: 'embedder', input: 'a', encoding_format: 'base64' })).json()) as { data: { embedding: string }[] };
    const buf = Buffer.from(raw.data[0].embedding, 'base64');
    expect(buf.length).toBe(EMBEDDER.embeddingLength! * 4);
    expect(buf.readFloatLE(0)).toBeCloseTo(f.data[0].embedding[0], 6);
  });

  it('lists and retrieves models', async () => {
    const c = client(url);
    const ids = [];
    for await (const m of c.models.list()) ids.push(m);
    expect(ids.map((m) => m.id)).toContain('tiny:latest');
    expect(ids[0]).toMatchObject({ object: 'model', owned_by: 'library' });
    expect(await c.models.retrieve('tiny')).toMatchObject({ id: 'tiny', object: 'model', owned_by: 'library' });
  });

  it.each([
    ['unknown model', '/v1/chat/completions', { model: 'nope', messages: [{ role: 'user', content: 'x' }] }, 404, "model 'nope' not found", 'not_found_error'],
    ['no messages', '/v1/chat/completions', { model: 'tiny', messages: [] }, 400, "[] is too short - 'messages'", 'invalid_request_error'],
    [
      'http image',
      '/v1/chat/completions',
      { model: 'tiny', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] },
      400,
      'invalid image input',
      'invalid_request_error',
    ],
    [
      'bad reasoning',
      '/v1/chat/completions',
      { model: 'thinker:8b', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'lots' },
      400,
      expect.stringContaining("invalid reasoning value: 'lots'"),
      'invalid_request_error',
    ],
    ['empty embedding input', '/v1/embeddings', { model: 'embedder', input: [] }, 400, 'invalid input', 'invalid_request_error'],
    [
      'bad encoding',
      '/v1/embeddings',
      { model: 'embedder', input: 'x', encoding_format: 'hex' },
      400,
      "Invalid value for 'encoding_format' = hex. Supported values: ['float', 'base64'].",
      'invalid_request_error',
    ],
  ])('%s gives the OpenAI error shape', async (_n, path, body, status, message, type) => {
    const res = await postJson(url + path, body);
    expect(res.status).toBe(status);
    const text = await res.text();
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({ error: { message, type, param: null, code: null } });
  });

  it('surfaces errors as APIError with status and type in the SDK', async () => {
    const err = await client(url)
      .models.retrieve('nope')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect(err).toMatchObject({ status: 404, type: 'not_found_error', error: { message: "model 'nope:latest' not found" } });
  });
});

describe('OpenAI layer under faults', () => {
  it('returns a 503 in OpenAI shape (api_error) for an injected failure', () =>
    withPool({ nodes: [node({ faults: { failNext: { count: 1, status: 503 } } })] }, async (pool) => {
      const err = await client(pool.nodes[0].url)
        .chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 503, type: 'api_error', error: { message: 'server busy, please try again.  maximum pending requests exceeded' } });
    }));

  it('turns a mid-stream error into one empty chunk and an end without [DONE], as Ollama does', () =>
    withPool({ nodes: [node({ faults: { errorMidStream: { afterTokens: 2 } } })] }, async (pool) => {
      const res = await postJson(pool.nodes[0].url + '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'x' }], stream: true });
      expect(res.status).toBe(200);
      const data = await sseData(res);
      expect(data).toHaveLength(3);
      expect(data).not.toContain('[DONE]');
      expect(JSON.parse(data[2]).choices[0]).toEqual({ index: 0, delta: { content: '' }, finish_reason: null });
    }));
});
