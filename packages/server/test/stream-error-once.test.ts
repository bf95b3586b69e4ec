import { allRoutes } from '../src';
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

describe('a stream that ends in an in-band error carries it once', () => {
  let g: GatewayHarness;
  beforeEach(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'], responseTokens: { min: 40, max: 40 } }], () => undefined, { routes: allRoutes });
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
});
