import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startGateway, type GatewayHarness } from './gateway-harness';

describe('official clients through the gateway', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway([
      { id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 },
      { id: 'b', models: ['llama3.2'], numParallel: 2 },
    ]);
  });
  afterAll(() => g.close());

  test('ollama: streaming chat', async () => {
    const ollama = new Ollama({ host: g.url });
    const stream = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    let last: { done?: boolean; eval_count?: number } = {};
    for await (const part of stream) {
      text += part.message.content;
      last = part;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(last.done).toBe(true);
    expect(last.eval_count).toBeGreaterThan(0);
  });

  test('ollama: non-streaming generate and embed', async () => {
    const ollama = new Ollama({ host: g.url });
    const gen = await ollama.generate({ model: 'llama3.2', prompt: 'Why is the sky blue?', stream: false });
    expect(gen.response?.length).toBeGreaterThan(0);
    const emb = await ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(emb.embeddings).toHaveLength(2);
  });

  test("ollama: an unknown model is a ResponseError 404 with Ollama's text", async () => {
    const ollama = new Ollama({ host: g.url });
    await expect(ollama.generate({ model: 'nope', prompt: 'x', stream: false })).rejects.toMatchObject({
      status_code: 404,
      error: "model 'nope' not found",
    });
  });

  test('openai: streaming chat completion over SSE', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused' });
    const stream = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  test("openai: non-streaming chat, and an unknown model in OpenAI's error shape", async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.choices[0].message.content?.length).toBeGreaterThan(0);
    await expect(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404,
    });
  });

  test('proxied responses carry the node, queue time and retries', async () => {
    const res = await fetch(`${g.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false }),
    });
    expect(res.status).toBe(200);
    expect(['a', 'b']).toContain(res.headers.get('x-ollama-ring-node'));
    expect(Number(res.headers.get('x-ollama-ring-queue-ms'))).toBeGreaterThanOrEqual(0);
    expect(res.headers.get('x-ollama-ring-retries')).toBe('0');
    // The body is relayed byte for byte, so the node's Content-Length holds and no chunking is added.
    const body = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get('transfer-encoding')).toBeNull();
    expect(JSON.parse(body)).toMatchObject({ done: true });
  });

  test.each([
    ['unknown path', 'GET', '/nope', 404, '404 page not found'],
    ['wrong method', 'GET', '/api/generate', 405, '405 method not allowed'],
  ])('%s', async (_l, method, path, status, text) => {
    const res = await fetch(`${g.url}${path}`, { method });
    expect(res.status).toBe(status);
    expect(await res.text()).toBe(text);
  });
});
