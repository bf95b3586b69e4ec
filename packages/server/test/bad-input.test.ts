import type { BalancerConfig } from '@ollama-ring/balancer';
import type { SimNodeConfig } from '@ollama-ring/ollama-sim';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/** One bad request and what must come back. */
interface Case {
  name: string;
  method?: string;
  path: string;
  body?: string | Record<string, unknown>;
  headers?: Record<string, string>;
  status: number;
  /** The exact body (JSON), or a pattern for its text. */
  body_is?: unknown;
  text?: RegExp;
  retryAfter?: boolean;
  /** The exact Content-Type: gin's for native errors, `application/json` for Ollama's OpenAI layer. */
  contentType?: string;
}

const ollamaErr = (error: string) => ({ error });
const openaiErr = (message: string, type: string) => ({ error: { message, type, param: null, code: null } });
const gen = (extra: Record<string, unknown> = {}) => ({ model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 4 }, ...extra });
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], max_tokens: 4, ...extra });

async function send(url: string, c: Pick<Case, 'method' | 'path' | 'body' | 'headers'>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}${c.path}`, {
    method: c.method ?? 'POST',
    headers: c.headers,
    body: c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
    signal,
  });
}

async function expectCase(url: string, c: Case): Promise<void> {
  const res = await send(url, c);
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status: c.status });
  if (c.body_is !== undefined) expect(JSON.parse(text)).toEqual(c.body_is);
  if (c.text) expect(text).toMatch(c.text);
  if (c.retryAfter) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  if (c.contentType) expect(res.headers.get('content-type')).toBe(c.contentType);
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Nothing was disturbed: a normal request (native and OpenAI) succeeds, and in-flight returns to 0. */
async function expectUndisturbed(g: GatewayHarness, headers: Record<string, string> = {}): Promise<void> {
  const ok = await send(g.url, { path: '/api/generate', body: gen(), headers });
  expect(ok.status).toBe(200);
  expect(((await ok.json()) as { done: boolean }).done).toBe(true);
  const oa = await send(g.url, { path: '/v1/chat/completions', body: chat(), headers });
  expect(oa.status).toBe(200);
  await oa.json();
  await until(
    () =>
      g.factory.getPoolView().live === 0 &&
      g.factory
        .getNodeRegistry()
        .getAllNodes()
        .every((n) => n.inFlight === 0),
    2_000,
    'in-flight back to 0',
  );
}

const NODES: SimNodeConfig[] = [{ id: 'a', models: ['llama3.2'], numParallel: 2 }];

describe("every bad input gets its error in the caller's shape, and disturbs nothing", () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway(NODES, (c) => (c.validation.maxBodyBytes = 4096), { routes: allRoutes });
  });
  afterAll(() => g.close());

  const big = 'x'.repeat(5000);
  const cases: Case[] = [
    // Native inference.
    { name: 'native: malformed JSON', path: '/api/generate', body: '{"model":', status: 400, text: /^\{"error":"invalid JSON: / },
    { name: 'native: empty body', path: '/api/chat', body: '', status: 400, body_is: ollamaErr('missing request body'), contentType: 'application/json; charset=utf-8' },
    { name: 'native: a JSON array', path: '/api/chat', body: '[1]', status: 400, text: /cannot unmarshal/ },
    { name: 'native chat: missing model', path: '/api/chat', body: { messages: [] }, status: 400, body_is: ollamaErr('model is required') },
    // Ollama's own answer for generate without a model is a 404 (ollama-api.md §4), and so is ours.
    { name: 'native generate: missing model', path: '/api/generate', body: { prompt: 'x' }, status: 404, body_is: ollamaErr("model '' not found") },
    {
      name: 'native: wrong field type (stream)',
      path: '/api/generate',
      body: gen({ stream: 'yes' }),
      status: 400,
      body_is: ollamaErr('json: cannot unmarshal string into Go struct field .stream of type bool'),
    },
    {
      name: 'native: wrong field type (model)',
      path: '/api/chat',
      body: { model: 3, messages: [] },
      status: 400,
      body_is: ollamaErr('json: cannot unmarshal number into Go struct field .model of type string'),
    },
    { name: 'native: oversized body', path: '/api/generate', body: gen({ prompt: big }), status: 413, text: /exceeds the limit of 4096/ },
    { name: 'native: unknown model', path: '/api/generate', body: gen({ model: 'x' }), status: 404, body_is: ollamaErr("model 'x' not found") },
    { name: 'native: wrong method', method: 'GET', path: '/api/chat', status: 405, text: /^405 method not allowed$/ },
    { name: 'unknown path', method: 'GET', path: '/api/nope', status: 404, text: /^404 page not found$/ },
    // OpenAI inference.
    {
      name: 'openai: malformed JSON',
      path: '/v1/chat/completions',
      body: '{"model"',
      status: 400,
      text: /^\{"error":\{"message":"invalid JSON: .*","type":"invalid_request_error","param":null,"code":null\}\}\n$/,
    },
    {
      name: 'openai: missing model',
      path: '/v1/chat/completions',
      body: { messages: [{ role: 'user', content: 'x' }] },
      status: 400,
      body_is: openaiErr('model is required', 'invalid_request_error'),
      contentType: 'application/json',
    },
    {
      name: 'openai: wrong field type (messages)',
      path: '/v1/chat/completions',
      body: chat({ messages: 'hi' }),
      status: 400,
      body_is: openaiErr('json: cannot unmarshal string into Go struct field .messages of type array', 'invalid_request_error'),
    },
    {
      name: 'openai: empty messages',
      path: '/v1/chat/completions',
      body: chat({ messages: [] }),
      status: 400,
      body_is: openaiErr("[] is too short - 'messages'", 'invalid_request_error'),
    },
    {
      name: 'openai: oversized body',
      path: '/v1/completions',
      body: { model: 'llama3.2', prompt: big },
      status: 413,
      text: /^\{"error":\{"message":"request body of \d+ bytes exceeds the limit of 4096","type":"api_error"/,
    },
    {
      name: 'openai: unknown model',
      path: '/v1/chat/completions',
      body: chat({ model: 'x' }),
      status: 404,
      body_is: openaiErr("model 'x' not found", 'not_found_error'),
      contentType: 'application/json',
    },
    { name: 'openai: wrong method', method: 'GET', path: '/v1/chat/completions', status: 405, text: /^405 method not allowed$/ },
    // The non-inference routes.
    { name: 'show: malformed JSON', path: '/api/show', body: '{', status: 400, text: /^\{"error":"invalid JSON: / },
    { name: 'show: no model', path: '/api/show', body: {}, status: 400, body_is: ollamaErr('model is required') },
    { name: 'show: a model that is not a string', path: '/api/show', body: { model: ['x'] }, status: 400, body_is: ollamaErr("field 'model' must be a string (got object)") },
    { name: 'show: oversized body', path: '/api/show', body: { model: big }, status: 413, text: /exceeds the limit of 4096/ },
    { name: 'show: wrong method', method: 'GET', path: '/api/show', status: 405, text: /^405 method not allowed$/ },
    { name: 'pull: empty body', path: '/api/pull', body: '', status: 400, body_is: ollamaErr('missing request body') },
    { name: 'tags: wrong method', method: 'POST', path: '/api/tags', status: 405, text: /^405 method not allowed$/ },
    { name: 'openai models: wrong method', method: 'POST', path: '/v1/models', status: 405, text: /^405 method not allowed$/ },
    { name: 'admin: malformed JSON', path: '/admin/strategy', body: '{"strategy"', status: 400, text: /^\{"error":"invalid JSON: / },
    { name: 'admin: unknown path', method: 'GET', path: '/admin/nope', status: 404, text: /^404 page not found$/ },
    { name: 'admin: wrong method', method: 'PUT', path: '/admin/nodes', status: 405, text: /^405 method not allowed$/ },
  ];

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await expectCase(g.url, c);
    await expectUndisturbed(g);
  });
});

/** Cases that need a config of their own, and requests holding the node meanwhile. */
describe('bounds and auth: 401, 429, 503, 504, each with its own gateway', () => {
  interface BoundCase {
    name: string;
    tweak: (c: BalancerConfig) => void;
    /** Requests sent first (they hang at the node) to fill slots and queue. */
    holders: number;
    probe: Case;
    headers?: Record<string, string>;
  }
  const hang = { paths: ['/api/generate', '/v1/chat/completions'], count: 10 };
  const cases: BoundCase[] = [
    {
      name: '503 with Retry-After: queue full',
      tweak: (c) => (c.queue.maxDepth = 1),
      holders: 3,
      probe: { name: '', path: '/api/generate', body: gen(), status: 503, body_is: ollamaErr('server busy: wait queue is full'), retryAfter: true },
    },
    {
      name: '503 with Retry-After: backpressure (maxGlobalInFlight)',
      tweak: (c) => (c.disruptor.maxGlobalInFlight = 2),
      holders: 2,
      probe: {
        name: '',
        path: '/v1/chat/completions',
        body: chat(),
        status: 503,
        text: /^\{"error":\{"message":"server busy: 2 requests in progress \(maxGlobalInFlight\)","type":"api_error"/,
        retryAfter: true,
      },
    },
    {
      name: '504: queue timeout',
      tweak: (c) => (c.queue.maxWaitMs = 150),
      holders: 2,
      probe: { name: '', path: '/api/generate', body: gen(), status: 504, text: /^\{"error":"timed out after \d+ ms waiting for a free slot"\}$/ },
    },
  ];

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const g = await startGateway(NODES, c.tweak, { routes: allRoutes });
    const ac = new AbortController();
    try {
      g.sim.node('a').setFaults({ hang });
      const held = Array.from({ length: c.holders }, () => send(g.url, { path: '/api/generate', body: gen() }, ac.signal).catch(() => undefined));
      await until(() => g.factory.getPoolView().live === c.holders, 2_000, 'holders admitted');
      await expectCase(g.url, c.probe);
      ac.abort();
      await Promise.all(held);
      // The gateway hears of the disconnects a moment after the clients gave up.
      await until(() => g.factory.getPoolView().live === 0, 2_000, 'aborted holders released');
      g.sim.node('a').clearFaults();
      await expectUndisturbed(g);
    } finally {
      ac.abort();
      await g.close();
    }
  });

  test('401 for a missing or wrong API key (both shapes, every client route); 429 with Retry-After per key', async () => {
    const g = await startGateway(
      NODES,
      (c) => {
        c.auth.apiKeys = [{ key: 'k1' }, { key: 'k2' }];
        c.rateLimit.perClient = { rps: 0.5, burst: 1 };
      },
      { routes: allRoutes },
    );
    try {
      const unauthorized = 'unauthorized: a valid API key is required (Authorization: Bearer or X-API-Key)';
      const probes: Case[] = [
        { name: '', path: '/api/generate', body: gen(), status: 401, body_is: ollamaErr(unauthorized) },
        { name: '', path: '/api/chat', body: gen(), headers: { authorization: 'Bearer wrong' }, status: 401, body_is: ollamaErr(unauthorized) },
        { name: '', path: '/v1/chat/completions', body: chat(), headers: { 'x-api-key': 'wrong' }, status: 401, body_is: openaiErr(unauthorized, 'api_error') },
        { name: '', method: 'GET', path: '/api/tags', status: 401, body_is: ollamaErr(unauthorized) },
        { name: '', method: 'GET', path: '/api/stats', status: 401, body_is: ollamaErr(unauthorized) },
        { name: '', method: 'GET', path: '/v1/models', status: 401, body_is: openaiErr(unauthorized, 'api_error') },
        { name: '', path: '/api/pull', body: { model: 'qwen3' }, status: 401, body_is: ollamaErr(unauthorized) },
      ];
      for (const p of probes) await expectCase(g.url, p);
      // Health, readiness and metrics stay open to probes and scrapers.
      for (const path of ['/health', '/ready', '/metrics', '/']) expect((await fetch(`${g.url}${path}`)).status).toBe(200);

      // k1 spends its one token; its next request is limited, k2 is not.
      const k1 = { authorization: 'Bearer k1' };
      expect((await send(g.url, { path: '/api/generate', body: gen(), headers: k1 })).status).toBe(200);
      await expectCase(g.url, { name: '', path: '/api/generate', body: gen(), headers: k1, status: 429, body_is: ollamaErr('rate limit exceeded (client)'), retryAfter: true });
      await expectCase(g.url, { name: '', path: '/v1/chat/completions', body: chat(), headers: { 'x-api-key': 'k1' }, status: 429, retryAfter: true, text: /"type":"api_error"/ });
      const k2 = { 'x-api-key': 'k2' };
      expect((await send(g.url, { method: 'GET', path: '/api/tags', headers: k2 })).status).toBe(200);
      const ok = await send(g.url, { path: '/api/generate', body: gen(), headers: k2 });
      expect(ok.status).toBe(200);
      await ok.json();
      await until(() => g.factory.getPoolView().live === 0, 2_000, 'in-flight back to 0');
    } finally {
      await g.close();
    }
  });
});
