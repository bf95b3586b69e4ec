/**
 * The native API byte for byte, with plain fetch: every error of spec section 4 (status, exact body,
 * content type), key order of chunks, omitempty, the in-band error line, 404/405 and the Host check.
 */
import { THINKER, TINY, PLAIN, EMBEDDER, ndjson, node, postJson, withPool } from './helpers';

const JSON_CT = 'application/json; charset=utf-8';

type Row = [name: string, method: string, path: string, body: string | undefined, status: number, expected: string];

const ERRORS: Row[] = [
  ['empty body', 'POST', '/api/generate', '', 400, '{"error":"missing request body"}'],
  ['malformed JSON', 'POST', '/api/chat', '{"model":', 400, '{"error":"unexpected EOF"}'],
  ['bad character', 'POST', '/api/chat', 'xyz', 400, `{"error":"invalid character 'x' looking for beginning of value"}`],
  [
    'wrong field type',
    'POST',
    '/api/generate',
    '{"model":"tiny","stream":"yes"}',
    400,
    '{"error":"json: cannot unmarshal string into Go struct field GenerateRequest.stream of type bool"}',
  ],
  ['body not an object', 'POST', '/api/generate', '[1]', 400, '{"error":"json: cannot unmarshal array into Go value of type api.GenerateRequest"}'],
  ['generate without model', 'POST', '/api/generate', '{"prompt":"x"}', 404, `{"error":"model '' not found"}`],
  ['chat without model', 'POST', '/api/chat', '{"messages":[]}', 400, '{"error":"model is required"}'],
  ['embed without model', 'POST', '/api/embed', '{"input":"x"}', 404, `{"error":"model '' not found"}`],
  ['embeddings without model', 'POST', '/api/embeddings', '{"prompt":"x"}', 400, '{"error":"model is required"}'],
  ['show without model', 'POST', '/api/show', '{}', 400, '{"error":"model is required"}'],
  ['chat with invalid name', 'POST', '/api/chat', '{"model":"bad name!"}', 400, '{"error":"invalid model name"}'],
  ['raw with system', 'POST', '/api/generate', '{"model":"tiny","prompt":"x","raw":true,"system":"s"}', 400, '{"error":"raw mode does not support template, system, or context"}'],
  ['generate unknown model', 'POST', '/api/generate', '{"model":"xyz","prompt":"x"}', 404, `{"error":"model 'xyz' not found"}`],
  ['chat unknown model', 'POST', '/api/chat', '{"model":"Xyz:7B","messages":[]}', 404, `{"error":"model 'Xyz:7B' not found"}`],
  ['embed unknown model', 'POST', '/api/embed', '{"model":"xyz","input":"x"}', 404, '{"error":"model \\"xyz\\" not found, try pulling it first"}'],
  ['embeddings unknown model', 'POST', '/api/embeddings', '{"model":"xyz","prompt":"x"}', 404, '{"error":"model \\"xyz\\" not found, try pulling it first"}'],
  ['show unknown model', 'POST', '/api/show', '{"model":"xyz"}', 404, `{"error":"model 'xyz:latest' not found"}`],
  ['delete unknown model', 'DELETE', '/api/delete', '{"model":"xyz"}', 404, `{"error":"model 'xyz' not found"}`],
  ['copy unknown source', 'POST', '/api/copy', '{"source":"xyz","destination":"abc"}', 404, '{"error":"model \\"xyz\\" not found"}'],
  ['copy invalid destination', 'POST', '/api/copy', '{"source":"tiny","destination":"a b"}', 400, '{"error":"destination \\"a b\\" is invalid"}'],
  ['keep_alive without unit', 'POST', '/api/generate', '{"model":"tiny","keep_alive":"3600"}', 400, '{"error":"time: missing unit in duration \\"3600\\""}'],
  ['keep_alive of a bad type', 'POST', '/api/generate', '{"model":"tiny","keep_alive":true}', 400, `{"error":"Unsupported type: 'bool'"}`],
  ['option of a bad type', 'POST', '/api/generate', '{"model":"tiny","prompt":"x","options":{"num_ctx":"big"}}', 400, '{"error":"option \\"num_ctx\\" must be of type integer"}'],
  ['top_logprobs out of range', 'POST', '/api/chat', '{"model":"tiny","top_logprobs":21}', 400, '{"error":"top_logprobs must be between 0 and 20"}'],
  [
    'think on a plain model',
    'POST',
    '/api/chat',
    '{"model":"tiny","messages":[{"role":"user","content":"x"}],"think":true}',
    400,
    '{"error":"\\"tiny\\" does not support thinking"}',
  ],
  ['chat with an embedding model', 'POST', '/api/chat', '{"model":"embedder","messages":[{"role":"user","content":"x"}]}', 400, '{"error":"\\"embedder\\" does not support chat"}'],
  ['generate with an embedding model', 'POST', '/api/generate', '{"model":"embedder","prompt":"x"}', 400, '{"error":"\\"embedder\\" does not support generate"}'],
  [
    'tools on a model without tools',
    'POST',
    '/api/chat',
    '{"model":"plain:7b","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}',
    400,
    '{"error":"registry.ollama.ai/library/plain:7b does not support tools"}',
  ],
  ['embed with a bad input type', 'POST', '/api/embed', '{"model":"embedder","input":5}', 400, '{"error":"invalid input type"}'],
  [
    'embed too long without truncation',
    'POST',
    '/api/embed',
    `{"model":"embedder","input":"${'x'.repeat(20000)}","truncate":false}`,
    400,
    '{"error":"the input length exceeds the context length"}',
  ],
];

describe('native API on the wire', () => {
  let url = '';
  let close: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    const { startSimPool } = await import('@ollama-ring/ollama-sim');
    const pool = await startSimPool({ nodes: [node()] });
    url = pool.nodes[0].url;
    close = () => pool.close();
  });
  afterAll(() => close());

  it.each(ERRORS)('%s → %s %s gives %i %s', async (_name, method, path, body, status, expected) => {
    const res = await fetch(url + path, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe(JSON_CT);
    expect(await res.text()).toBe(expected);
  });

  it.each([
    ['GET', '/api/nothing-here', 404, '404 page not found'],
    ['GET', '/api/chat', 405, '405 method not allowed'],
    ['POST', '/api/tags', 405, '405 method not allowed'],
    ['DELETE', '/v1/models', 405, '405 method not allowed'],
  ])('%s %s gives %i as plain text', async (method, path, status, text) => {
    const res = await fetch(url + path, { method });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(text);
  });

  it('answers GET and HEAD on / and /api/version', async () => {
    const root = await fetch(url + '/');
    expect(root.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await root.text()).toBe('Ollama is running');
    const head = await fetch(url + '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(await (await fetch(url + '/api/version')).text()).toBe('{"version":"0.33.0"}');
    expect((await fetch(url + '/api/tags', { method: 'HEAD' })).status).toBe(200);
  });

  it('writes stream chunks in Ollama key order, metrics only on the final chunk, omitempty', async () => {
    const res = await postJson(url + '/api/generate', { model: 'tiny', prompt: 'hello' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = await ndjson(res);
    expect(Object.keys(lines[0])).toEqual(['model', 'created_at', 'response', 'done']);
    expect(lines[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    expect(Object.keys(lines[lines.length - 1])).toEqual([
      'model',
      'created_at',
      'response',
      'done',
      'done_reason',
      'context',
      'total_duration',
      'load_duration',
      'prompt_eval_count',
      'prompt_eval_duration',
      'eval_count',
      'eval_duration',
    ]);
    const raw = await ndjson(await postJson(url + '/api/generate', { model: 'tiny', prompt: 'hello', raw: true }));
    expect(raw[raw.length - 1].context).toBeUndefined();

    const chat = await ndjson(await postJson(url + '/api/chat', { model: 'thinker:8b', messages: [{ role: 'user', content: 'hi' }] }));
    expect(Object.keys(chat[0])).toEqual(['model', 'created_at', 'message', 'done']);
    expect(Object.keys(chat[0].message as object)).toEqual(['role', 'content', 'thinking']);
    expect(Object.keys(chat[chat.length - 1])).toEqual([
      'model',
      'created_at',
      'message',
      'done',
      'done_reason',
      'total_duration',
      'load_duration',
      'prompt_eval_count',
      'prompt_eval_duration',
      'eval_count',
      'eval_duration',
    ]);
  });

  it('sends one compact JSON object for stream:false, without a trailing newline', async () => {
    const res = await postJson(url + '/api/chat', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], stream: false });
    expect(res.headers.get('content-type')).toBe(JSON_CT);
    const text = await res.text();
    expect(text.endsWith('}')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ model: 'tiny', done: true, done_reason: 'stop' });
  });

  it('answers load and unload with one object without metrics, even when streaming', async () => {
    const load = await postJson(url + '/api/generate', { model: 'tiny' });
    expect(load.headers.get('content-type')).toBe(JSON_CT);
    expect(Object.keys(JSON.parse(await load.text()))).toEqual(['model', 'created_at', 'response', 'done', 'done_reason']);
    const unload = await postJson(url + '/api/chat', { model: 'tiny', keep_alive: '0s' });
    expect(JSON.parse(await unload.text())).toMatchObject({ done_reason: 'unload', message: { role: 'assistant', content: '' } });
  });

  it('matches model names case-insensitively and echoes them as sent', async () => {
    const lines = await ndjson(await postJson(url + '/api/generate', { model: 'TINY:Latest', prompt: 'x', options: { num_predict: 1 } }));
    expect(lines[0].model).toBe('TINY:Latest');
    const full = await postJson(url + '/api/chat', { model: 'registry.ollama.ai/library/tiny:latest', messages: [{ role: 'user', content: 'x' }], stream: false });
    expect(full.status).toBe(200);
  });
});

describe('in-band errors and the Host check', () => {
  it('sends K token lines then one {"error"} line, status 200 and no done line', () =>
    withPool({ nodes: [node({ faults: { errorMidStream: { afterTokens: 2 } } })] }, async (pool) => {
      const res = await postJson(pool.nodes[0].url + '/api/chat', { model: 'tiny', messages: [{ role: 'user', content: 'x' }] });
      expect(res.status).toBe(200);
      const lines = await ndjson(res);
      expect(lines).toHaveLength(3);
      expect(lines[2]).toEqual({ error: 'an error was encountered while running the model' });
      expect(lines.some((l) => l.done === true)).toBe(false);
    }));

  it('refuses a foreign Host on a loopback listener with an empty 403, and accepts local names', () =>
    withPool({ nodes: [node({ models: [TINY, THINKER, PLAIN, EMBEDDER] })] }, async (pool) => {
      const { request } = await import('undici');
      const get = async (host: string): Promise<[number, string]> => {
        const r = await request(pool.nodes[0].url + '/api/version', { headers: { host } });
        return [r.statusCode, await r.body.text()];
      };
      expect(await get('evil.example.com')).toEqual([403, '']);
      expect(await get('8.8.8.8:11434')).toEqual([403, '']);
      for (const ok of ['localhost:11434', '127.0.0.1', 'ollama.internal', 'box.local', 'app.localhost', '10.1.2.3', '[::1]:80']) {
        expect((await get(ok))[0]).toBe(200);
      }
    }));

  it('skips the Host check when configured off', () =>
    withPool({ nodes: [node({ checkHost: false })] }, async (pool) => {
      const { request } = await import('undici');
      const r = await request(pool.nodes[0].url + '/api/version', { headers: { host: 'evil.example.com' } });
      expect(r.statusCode).toBe(200);
      await r.body.dump();
    }));
});

describe('JSON nested thousands deep', () => {
  const deep = (n: number): string => `${'['.repeat(n)}1${']'.repeat(n)}`;
  it('a deep think value is the 400 it always is, not a 500 from an overflowed stack', () =>
    withPool({ nodes: [node()] }, async (pool) => {
      const res = await fetch(pool.nodes[0].url + '/api/generate', { method: 'POST', body: `{"model":"tiny","prompt":"x","stream":false,"think":${deep(10_000)}}` });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^invalid think value: .* \(must be "high", "medium", "low", "max", true, or false\)$/);
    }));

  it('deep tools are counted and answered, not a 500 from an overflowed stack', () =>
    withPool({ nodes: [node()] }, async (pool) => {
      const res = await fetch(pool.nodes[0].url + '/api/chat', {
        method: 'POST',
        body: `{"model":"tiny","messages":[{"role":"user","content":"x"}],"stream":false,"tools":[{"type":"function","function":{"name":"f","parameters":${deep(10_000)}}}]}`,
      });
      expect(res.status).toBeLessThan(500);
      await res.text();
    }));
});
