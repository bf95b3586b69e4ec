import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/**
 * `fallback_model` (body) and `X-Ollama-Ring-Fallback-Model` (header) through the gateway, against
 * emulated nodes: the request is served by the fallback when its model cannot be served, the
 * response names the model asked for, and `fallbacks_total` counts the switch.
 */

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function generate(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const res = await fetch(`${url}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ prompt: 'hi', stream: false, options: { num_predict: 4 }, ...body }),
    signal,
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

async function fallbacksCounted(h: GatewayHarness, reason: string): Promise<number> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('ollama_lb_fallbacks_total{') && l.includes(`reason="${reason}"`));
  if (line) expect(line).toMatch(/model="llama3\.2:latest",fallback="qwen3:latest"/);
  return line ? Number(line.split(' ').pop()) : 0;
}

const inFlightZero = (h: GatewayHarness) => h.factory.getPoolView().nodes.every((n) => n.inFlight === 0);

/** Node a has llama3.2, node b qwen3 (the fallback); a request may wait 1 s for its slot. */
function twoModelPool(): ReturnType<typeof startGateway> {
  return startGateway(
    [
      { id: 'a', models: ['llama3.2'], preload: ['llama3.2'] },
      { id: 'b', models: ['qwen3'], preload: ['qwen3'] },
    ],
    (c) => {
      c.healthCheck.intervalMs = 600_000;
      c.queue.maxWaitMs = 1_000;
    },
    { routes: allRoutes },
  );
}

describe('fallback_model through the gateway', () => {
  let h: GatewayHarness;
  afterEach(async () => {
    await until(() => inFlightZero(h), 5_000, 'in-flight back to 0');
    await h.close();
  });

  test('the model’s only node is down: served by the fallback, the response says so, counted', async () => {
    h = await twoModelPool();
    // A refusing node is marked down by the first request that meets it, which is then retried: its
    // model's only node is down, so it moves to its fallback. The second finds the node down already.
    h.sim.node('a').refuse();
    const viaHeader = await generate(h.url, { model: 'llama3.2' }, { 'x-ollama-ring-fallback-model': 'qwen3' });
    const viaBody = await generate(h.url, { model: 'llama3.2', fallback_model: 'qwen3' });
    for (const { res, json } of [viaHeader, viaBody]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ollama-ring-node')).toBe('b');
      expect(res.headers.get('x-ollama-ring-fallback')).toBe('llama3.2');
      expect(json).toMatchObject({ model: 'qwen3', done: true });
    }
    expect(await fallbacksCounted(h, 'unavailable')).toBe(2);

    // Without a fallback the request is not switched: it waits for its node, up to its deadline.
    const plain = await generate(h.url, { model: 'llama3.2' });
    expect(plain.res.status).toBe(504);
    expect(plain.res.headers.get('x-ollama-ring-fallback')).toBeNull();
    expect(await fallbacksCounted(h, 'unavailable')).toBe(2);
    await h.sim.node('a').accept();
  });

  test('the model’s only node is busy past the queue deadline: served by the fallback at once', async () => {
    h = await twoModelPool();
    // Teaches the estimates llama3.2's token rate on a, then holds a's only slot for seconds.
    expect((await generate(h.url, { model: 'llama3.2', options: { num_predict: 16 } })).res.status).toBe(200);
    const long = new AbortController();
    const busy = generate(h.url, { model: 'llama3.2', options: { num_predict: 20_000 } }, {}, long.signal).catch(() => undefined);
    await until(() => h.factory.getPoolView().nodes.find((n) => n.id === 'a')?.inFlight === 1, 5_000, 'a busy');

    const started = Date.now();
    const { res, json } = await generate(h.url, { model: 'llama3.2', fallback_model: 'qwen3' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ollama-ring-node')).toBe('b');
    expect(res.headers.get('x-ollama-ring-fallback')).toBe('llama3.2');
    expect(json.model).toBe('qwen3');
    // Switched when offered, not after waiting out its deadline (1 s) for a slot that was not coming.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(Number(res.headers.get('x-ollama-ring-queue-ms'))).toBeLessThan(900);
    expect(await fallbacksCounted(h, 'deadline')).toBe(1);

    // A request whose node frees in time stays with its model: a's slot is free again.
    long.abort();
    await busy;
    await until(() => inFlightZero(h), 5_000, 'a free again');
    const own = await generate(h.url, { model: 'llama3.2', fallback_model: 'qwen3' });
    expect(own.res.headers.get('x-ollama-ring-node')).toBe('a');
    expect(own.res.headers.get('x-ollama-ring-fallback')).toBeNull();
    expect(own.json.model).toBe('llama3.2');
  });
});
