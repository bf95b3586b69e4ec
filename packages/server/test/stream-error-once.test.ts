import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PipelineFactory } from '@ollama-ring/balancer';
import { allRoutes, Gateway } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

// A node that fails mid-stream (HTTP 200 already sent) ends its stream with one error: Ollama's
// final `{"error":…}` line on the native routes, one `data:` error event on the OpenAI routes. The
// client must see that error exactly once, then the end of the response; the failure still counts
// against the node and in the metrics.

const MESSAGE = 'an error was encountered while running the model';

async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The body's non-blank lines (NDJSON lines, or SSE `data:` lines with their blank separators dropped). */
function linesOf(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

async function errorCount(g: GatewayHarness, node: string): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  const m = new RegExp(`requests_total\\{[^}]*node="${node}"[^}]*outcome="error"[^}]*\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

describe.each(['inline', 'workers'] as const)('a stream that ends in an in-band error carries it once (dispatch %s)', (placement) => {
  let g: GatewayHarness;
  beforeEach(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'], responseTokens: { min: 40, max: 40 } }], (c) => (c.disruptor.dispatchPlacement = placement), {
      routes: allRoutes,
    });
  });
  afterEach(() => g.close());

  test('native /api/chat: the node error line once, last; counted as an upstream error against the node', async () => {
    g.sim.node('a').setFaults({ errorMidStream: { afterTokens: 3, count: 1 } });
    const res = await fetch(`${g.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const lines = linesOf(await res.text());
    const errors = lines.filter((l) => l.includes('"error"'));
    expect(errors).toEqual([JSON.stringify({ error: MESSAGE })]);
    expect(lines[lines.length - 1]).toBe(JSON.stringify({ error: MESSAGE }));
    expect(lines.length).toBeGreaterThan(1);

    await until(async () => (await errorCount(g, 'a')) === 1, 10_000, 'requests_total{outcome="error"} 1');
    expect(g.factory.getNodeRegistry().getNode('a')?.failedRequests).toBe(1);
    // The node still serves the next request.
    const ok = await fetch(`${g.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false }),
    });
    expect(ok.status).toBe(200);
  });

  test('OpenAI /v1/chat/completions streaming: exactly one error event, and no [DONE]', async () => {
    g.sim.node('a').setFaults({ errorMidStream: { afterTokens: 3, count: 1 } });
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(res.status).toBe(200);
    const lines = linesOf(await res.text());
    const errors = lines.filter((l) => l.includes('"error"'));
    expect(errors).toHaveLength(1);
    expect(lines[lines.length - 1]).toBe(errors[0]);
    expect(lines).not.toContain('data: [DONE]');
    const event = JSON.parse(errors[0].slice('data:'.length)) as { error: { message: string } };
    expect(typeof event.error.message).toBe('string');

    await until(async () => (await errorCount(g, 'a')) === 1, 10_000, 'requests_total{outcome="error"} 1');
    expect(g.factory.getNodeRegistry().getNode('a')?.failedRequests).toBe(1);
  });
});

/** A node that answers every inference request with two SSE chunks, then `last`, then the end. */
function sseNode(last: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET') {
      if (req.url === '/api/tags') return res.end(JSON.stringify({ models: [{ name: 'm:latest', model: 'm:latest' }] }));
      if (req.url === '/api/ps') return res.end(JSON.stringify({ models: [] }));
      if (req.url === '/api/version') return res.end('{"version":"0.9.0"}');
      return res.end('Ollama is running');
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
    res.end(chunk('a') + chunk('b') + last);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe('an OpenAI stream whose node sends its own error event carries it once', () => {
  test.each([
    ['an OpenAI error event', `data: ${JSON.stringify({ error: { message: 'boom', type: 'api_error', param: null, code: null } })}\n\n`],
    ['an Ollama-shaped error event', `data: ${JSON.stringify({ error: 'boom' })}\n\n`],
  ])('%s, then the end: that event once, nothing after it; an upstream error', async (_name, last) => {
    const node = await sseNode(last);
    const factory = await PipelineFactory.create({ nodes: [{ id: 'n', url: node.url }] }, { env: {} }).start();
    const gateway = new Gateway({ factory, routes: allRoutes });
    const { port } = await gateway.listen(0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
      expect(res.status).toBe(200);
      const lines = linesOf(await res.text());
      expect(lines.filter((l) => l.includes('"error"'))).toEqual([last.trim()]);
      expect(lines[lines.length - 1]).toBe(last.trim());
      await until(() => factory.getNodeRegistry().getNode('n')?.failedRequests === 1, 10_000, 'the failure counted against n');
    } finally {
      await gateway.close(5_000);
      node.server.closeAllConnections();
      await new Promise((r) => node.server.close(r));
    }
  });
});
