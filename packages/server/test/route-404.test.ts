import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PipelineFactory } from '@ollama-ring/balancer';
import { allRoutes, Gateway } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

// A node that lacks a route answers it with Go's default `404 page not found` (text/plain). That is
// not Ollama's "model not found": the model must not be taken out of the node, let alone the pool.

interface FakeNode {
  server: Server;
  url: string;
  /** POST requests by path. */
  calls: Map<string, number>;
}

/**
 * An Ollama that has `llama3.2` and serves `/api/generate`, but no `/api/chat` and no OpenAI
 * layer: every other path gets gin's own 404.
 */
function nodeWithoutChat(): Promise<FakeNode> {
  const calls = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end('Ollama is running');
    }
    if (req.method === 'GET' && path === '/api/version') return json({ version: '0.9.0' });
    if (req.method === 'GET' && path === '/api/tags') return json({ models: [{ name: 'llama3.2:latest', model: 'llama3.2:latest' }] });
    if (req.method === 'GET' && path === '/api/ps') return json({ models: [] });
    req.resume();
    if (req.method === 'POST') calls.set(path, (calls.get(path) ?? 0) + 1);
    if (req.method === 'POST' && path === '/api/generate') {
      return req.on('end', () => json({ model: 'llama3.2', created_at: '2025-01-01T00:00:00Z', response: 'hi', done: true, done_reason: 'stop' }));
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls })));
}

async function closeNode(n: FakeNode): Promise<void> {
  n.server.closeAllConnections();
  await new Promise((r) => n.server.close(r));
}

const chat = { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 4 } };
const gen = { model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 4 } };

async function post(url: string, path: string, body: unknown): Promise<{ status: number; node: string | null; text: string; type: string | null }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, node: res.headers.get('x-ollama-ring-node'), text: await res.text(), type: res.headers.get('content-type') };
}

describe('a node that answers 404 page not found for a route', () => {
  let g: GatewayHarness | undefined;
  let fake: FakeNode | undefined;
  afterEach(async () => {
    await g?.close();
    if (fake) await closeNode(fake);
    g = undefined;
    fake = undefined;
  });

  test('beside a node that has the route: chats succeed on the other node, and the model stays on the first for the routes it serves', async () => {
    const f = (fake = await nodeWithoutChat());
    g = await startGateway(
      [{ id: 'b', models: ['llama3.2'], preload: ['llama3.2'] }],
      (c) => {
        c.strategy.type = 'round-robin';
        c.nodes.unshift({ id: 'a', url: f.url, models: [], maxConcurrentRequests: 1, weight: 1, enabled: true, tags: [], priority: 0 });
      },
      { routes: allRoutes },
    );
    for (let i = 0; i < 4; i++) {
      const r = await post(g.url, '/api/chat', chat);
      expect({ status: r.status, node: r.node }).toEqual({ status: 200, node: 'b' });
    }
    expect(f.calls.get('/api/chat') ?? 0).toBeGreaterThan(0);
    // The model was not taken out of a: generate requests are still shared between the nodes.
    const served: (string | null)[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await post(g.url, '/api/generate', gen);
      expect(r.status).toBe(200);
      served.push(r.node);
    }
    expect(served).toContain('a');
    const a = g.factory.getNodeRegistry().getNode('a')!;
    // A missing route says nothing bad about the node's health.
    expect([a.failedRequests, a.breakerState]).toEqual([0, 'closed']);
  });

  test('on every node: a 404 in the caller’s shape, each node tried once, and the model is still served on other routes', async () => {
    const nodes = [await nodeWithoutChat(), await nodeWithoutChat()];
    const factory = await PipelineFactory.create(
      {
        nodes: nodes.map((n, i) => ({ id: `n${i}`, url: n.url })),
        strategy: { type: 'round-robin' },
        retry: { maxRetries: 3, initialBackoffMs: 5, maxBackoffMs: 20, backoffMultiplier: 2 },
      },
      { env: {} },
    ).start();
    const gateway = new Gateway({ factory, routes: allRoutes });
    const url = `http://127.0.0.1:${(await gateway.listen(0, '127.0.0.1')).port}`;
    try {
      const native = await post(url, '/api/chat', chat);
      expect({ status: native.status, body: JSON.parse(native.text) as unknown, type: native.type }).toEqual({
        status: 404,
        body: { error: '404 page not found' },
        type: 'application/json; charset=utf-8',
      });
      expect(nodes.map((n) => n.calls.get('/api/chat'))).toEqual([1, 1]);

      const openai = await post(url, '/v1/chat/completions', { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
      expect({ status: openai.status, body: JSON.parse(openai.text) as unknown }).toEqual({
        status: 404,
        body: { error: { message: '404 page not found', type: 'not_found_error', param: null, code: null } },
      });

      // Neither node was told it lacks the model: a generate still goes through, on both nodes in turn.
      for (let i = 0; i < 4; i++) {
        const r = await post(url, '/api/generate', gen);
        expect({ status: r.status, text: r.status === 200 ? '' : r.text }).toEqual({ status: 200, text: '' });
      }
      expect(nodes.map((n) => (n.calls.get('/api/generate') ?? 0) > 0)).toEqual([true, true]);

      // The management routes tell a missing route from a missing model too, in Ollama's shape.
      const show = await post(url, '/api/show', { model: 'llama3.2' });
      expect({ status: show.status, body: JSON.parse(show.text) as unknown, type: show.type }).toEqual({
        status: 404,
        body: { error: '404 page not found' },
        type: 'application/json; charset=utf-8',
      });
      const del = await fetch(`${url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'llama3.2' }) });
      expect({ status: del.status, body: (await del.json()) as unknown }).toEqual({
        status: 404,
        body: { error: '404 page not found', ollama_ring: { nodes: { n0: 'error: 404 page not found', n1: 'error: 404 page not found' } } },
      });
    } finally {
      await gateway.close(5_000);
      for (const n of nodes) await closeNode(n);
    }
  });
});
