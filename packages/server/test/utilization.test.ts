import { allRoutes, type StatsBody } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/**
 * Keeps `clients` requests going back to back until `ms` have passed: with more clients than the
 * slots they may use, a request always waits in the balancer's queue, so a slot that frees is taken
 * again in the same scheduling pass and the nodes never idle.
 */
async function keepBusy(url: string, clients: number, ms: number, headers: Record<string, string> = {}): Promise<void> {
  const end = Date.now() + ms;
  const client = async (): Promise<void> => {
    while (Date.now() < end) {
      const res = await fetch(`${url}/api/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'llama3.2', prompt: 'Tell me a story.', stream: false, options: { num_predict: 40 } }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
}

async function stats(url: string): Promise<StatsBody> {
  const res = await fetch(`${url}/api/stats`);
  expect(res.status).toBe(200);
  return (await res.json()) as StatsBody;
}

/** `name{labels} value` samples of one metric family in Prometheus text, keyed by their label text. */
async function metric(url: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{(.*)\\} (\\S+)$`, 'gm'))) out.set(m[1], Number(m[2]));
  return out;
}

describe('utilization and load imbalance', () => {
  let g: GatewayHarness | undefined;
  afterEach(async () => {
    await g?.close();
    g = undefined;
  });

  test('a node kept busy reads about 100 %, an idle one about 0 %, and their imbalance is large', async () => {
    // Both serve the model; the tag sends every request to `busy`.
    g = await startGateway(
      [
        { id: 'busy', models: ['llama3.2'], numParallel: 1 },
        { id: 'idle', models: ['llama3.2'], numParallel: 1 },
      ],
      (c) => (c.nodes[0].tags = ['hot']),
      { routes: allRoutes },
    );
    await keepBusy(g.url, 3, 2_500, { 'x-ollama-ring-tags': 'hot' });
    const s = await stats(g.url);
    const busy = s.instances.busy.utilization;
    const idle = s.instances.idle.utilization;
    // Busy from the first request to the last: all but the gateway's start-up and the last request's tail.
    expect(busy.last_minute).toBeGreaterThan(0.8);
    expect(busy.since_start).toBeGreaterThan(0.8);
    expect(busy.last_minute).toBeLessThanOrEqual(1);
    expect(idle).toEqual({ last_minute: 0, since_start: 0 });
    // (1 − 0) ÷ mean 0.5 = 2 for a saturated node beside an idle one.
    expect(s.load_imbalance.last_minute).toBeGreaterThan(1.5);
    expect(s.load_imbalance.by_model['llama3.2:latest'].nodes).toEqual(['busy', 'idle']);
    expect(s.load_imbalance.definition).toMatch(/max − min/);

    const util = await metric(g.url, 'ollama_lb_node_utilization');
    expect(util.get('node="busy",window="1m"')).toBeGreaterThan(0.8);
    expect(util.get('node="idle",window="1m"')).toBe(0);
    expect(util.get('node="idle",window="start"')).toBe(0);
    const imbalance = await metric(g.url, 'ollama_lb_load_imbalance');
    expect(imbalance.get('window="1m"')).toBeGreaterThan(1.5);
  }, 30_000);

  test('two equal nodes under the same load: both busy, imbalance small; in flight back to 0 after', async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      (c) => (c.strategy.type = 'least-in-flight'),
      { routes: allRoutes },
    );
    await keepBusy(g.url, 8, 2_500);
    const s = await stats(g.url);
    for (const id of ['a', 'b']) expect(s.instances[id].utilization.last_minute).toBeGreaterThan(0.8);
    expect(s.load_imbalance.last_minute).toBeLessThan(0.05);
    expect(s.load_imbalance.since_start).toBeLessThan(0.05);
    expect(s.requests_in_progress).toBe(0);
    expect(Object.values(s.instances).map((i) => i.active_requests)).toEqual([0, 0]);
  }, 30_000);

  test('a pool with no model served by two nodes has no imbalance to report', async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 1 },
        { id: 'b', models: ['qwen3'], numParallel: 1 },
      ],
      undefined,
      { routes: allRoutes },
    );
    const s = await stats(g.url);
    expect(s.load_imbalance).toMatchObject({ last_minute: null, since_start: null, by_model: {} });
    expect((await metric(g.url, 'ollama_lb_load_imbalance')).size).toBe(0);
  }, 30_000);
});
