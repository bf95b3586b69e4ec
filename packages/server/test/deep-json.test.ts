import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

// Ollama decodes request bodies with Go's encoding/json, which takes nesting up to 10,000 levels
// and refuses deeper with a 400. The gateway must do the same on every route that takes a JSON
// body: pass on what Ollama would accept, refuse the rest with 400 in the caller's shape, and
// never answer 500 (a stack overflow in JSON.stringify or a recursive walk).

interface RouteCase {
  method: 'POST' | 'DELETE';
  path: string;
  /** The body; `deep` is put at `at` (a path of object keys from the top). */
  body: Record<string, unknown>;
  at: string[];
  /** What the route answers a shallow body with. */
  status: number;
  flavor: 'ollama' | 'openai';
}

const LIMIT = 10_000;

const ROUTES: RouteCase[] = [
  {
    method: 'POST',
    path: '/api/generate',
    body: { model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 2 } },
    at: ['options', 'deep'],
    status: 200,
    flavor: 'ollama',
  },
  {
    method: 'POST',
    path: '/api/chat',
    body: { model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], stream: false, options: { num_predict: 2 } },
    at: ['options', 'deep'],
    status: 200,
    flavor: 'ollama',
  },
  { method: 'POST', path: '/api/embed', body: { model: 'nomic-embed-text', input: 'x', options: {} }, at: ['options', 'deep'], status: 200, flavor: 'ollama' },
  { method: 'POST', path: '/api/embeddings', body: { model: 'nomic-embed-text', prompt: 'x', options: {} }, at: ['options', 'deep'], status: 200, flavor: 'ollama' },
  {
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 },
    at: ['deep'],
    status: 200,
    flavor: 'openai',
  },
  { method: 'POST', path: '/v1/completions', body: { model: 'llama3.2', prompt: 'x', max_tokens: 2 }, at: ['deep'], status: 200, flavor: 'openai' },
  { method: 'POST', path: '/v1/embeddings', body: { model: 'nomic-embed-text', input: 'x' }, at: ['deep'], status: 200, flavor: 'openai' },
  { method: 'POST', path: '/api/show', body: { model: 'llama3.2', options: {} }, at: ['options', 'deep'], status: 200, flavor: 'ollama' },
  { method: 'POST', path: '/api/pull', body: { model: 'llama3.2', stream: false }, at: ['deep'], status: 200, flavor: 'ollama' },
  { method: 'POST', path: '/api/create', body: { model: 'deep-made', from: 'llama3.2', stream: false, parameters: {} }, at: ['parameters', 'deep'], status: 200, flavor: 'ollama' },
  { method: 'POST', path: '/api/push', body: { model: 'llama3.2', stream: false }, at: ['deep'], status: 200, flavor: 'ollama' },
  { method: 'POST', path: '/api/copy', body: { source: 'llama3.2', destination: 'deep-copied' }, at: ['deep'], status: 200, flavor: 'ollama' },
  { method: 'DELETE', path: '/api/delete', body: { model: 'no-such-model' }, at: ['deep'], status: 404, flavor: 'ollama' },
  { method: 'POST', path: '/admin/strategy', body: { strategy: 'round-robin' }, at: ['deep'], status: 200, flavor: 'ollama' },
  // An unknown key in a node spec is refused, and named; at any depth it is still that 400.
  { method: 'POST', path: '/admin/nodes', body: { id: 'deep-node', url: 'http://127.0.0.1:9' }, at: ['deep'], status: 400, flavor: 'ollama' },
  // A known key of the wrong type: the message quotes the value it got, however deep.
  {
    method: 'POST',
    path: '/admin/nodes',
    body: { id: 'deep-node', url: 'http://127.0.0.1:9', maxConcurrentPerModel: {} },
    at: ['maxConcurrentPerModel', 'm'],
    status: 400,
    flavor: 'ollama',
  },
];

/** `c.body` as JSON text whose nesting, counting its own object as level 1, is exactly `depth`. */
function deepBody(c: RouteCase, depth: number): string {
  const body = structuredClone(c.body);
  let holder = body;
  for (const k of c.at.slice(0, -1)) holder = holder[k] as Record<string, unknown>;
  holder[c.at[c.at.length - 1]] = '\u0000DEEP';
  const arrays = depth - c.at.length;
  return JSON.stringify(body).replace('"\\u0000DEEP"', '['.repeat(arrays) + ']'.repeat(arrays));
}

async function send(g: GatewayHarness, c: RouteCase, depth: number): Promise<{ status: number; text: string }> {
  const res = await fetch(`${g.url}${c.path}`, { method: c.method, body: deepBody(c, depth) });
  return { status: res.status, text: await res.text() };
}

describe('deeply nested JSON bodies, on every route that takes one', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2', 'nomic-embed-text'], preload: ['llama3.2'] },
        { id: 'b', models: ['llama3.2', 'nomic-embed-text'] },
      ],
      (c) => (c.validation.maxBodyBytes = 4 * 1024 * 1024),
      { routes: allRoutes },
    );
  });
  afterAll(() => g.close());

  test('the depth counts as Go counts it: the body itself is level 1', () => {
    const text = deepBody(ROUTES[0], 7);
    let depth = 0;
    let max = 0;
    for (const ch of text.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
      if (ch === '[' || ch === '{') max = Math.max(max, ++depth);
      else if (ch === ']' || ch === '}') depth--;
    }
    expect(max).toBe(7);
  });

  test.each(ROUTES.map((c) => [`${c.method} ${c.path}`, c] as const))('%s: passed on up to 10,000 levels, 400 in its own shape beyond, never 500', async (_name, c) => {
    for (const depth of [100, LIMIT - 1, LIMIT]) {
      const r = await send(g, c, depth);
      expect({ depth, status: r.status, text: r.status === c.status ? '' : r.text }).toEqual({ depth, status: c.status, text: '' });
      expect(r.text).not.toMatch(/nested more than|call stack/);
    }
    for (const depth of [LIMIT + 1, 100_000]) {
      const r = await send(g, c, depth);
      expect({ depth, status: r.status }).toEqual({ depth, status: 400 });
      const body = JSON.parse(r.text) as { error: unknown };
      const message = c.flavor === 'openai' ? (body.error as { message: string; type: string }).message : body.error;
      if (c.flavor === 'openai') expect((body.error as { type: string }).type).toBe('invalid_request_error');
      expect(message).toBe(`invalid JSON: nested more than ${LIMIT} levels deep`);
    }
  });
});
