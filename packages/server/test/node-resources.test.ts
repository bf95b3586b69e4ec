// End to end: emulated nodes with Prometheus exporters (nodes[].metricsUrl), the balancer's
// `performance` strategy, real sockets all the way. A node loaded behind the balancer's back (busy
// slots, nearly full GPU memory) is avoided on its exporter's word alone; a node whose exporter is
// down is still used, scored neutrally, and the failed scrapes show in /metrics.
import { type NodeSnapshot, parsePrometheusText } from '@ollama-ring/balancer';
import type { SimModelConfig } from '@ollama-ring/ollama-sim';
import { allRoutes, type StatsBody } from '../src';
import { closedPort } from '../../balancer/test/nodes/fake-ollama';
import { startGateway, type GatewayHarness } from './gateway-harness';

const GIB = 2 ** 30;
/** What the balancer's requests ask for: 200 tokens, long enough for two sent together to overlap. */
const STEADY: SimModelConfig = { name: 'steady', size: GIB, loadMs: 0, responseTokens: { min: 200, max: 200 } };
/** What loads node a directly, past the balancer: a slow answer that ends only when its client goes. */
const ENDLESS: SimModelConfig = { name: 'endless', size: 3 * GIB, loadMs: 0, tokensPerSec: 0.5, responseTokens: { min: 1_000_000, max: 1_000_000 } };

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('node resource signals', () => {
  let g: GatewayHarness;
  const direct = new AbortController();
  const nodeOf = (id: string): NodeSnapshot => g.factory.getPoolView().nodes.find((n) => n.id === id)!;
  const generations = (id: string): number => g.sim.node(id).state().byRoute['POST /api/generate'] ?? 0;

  beforeAll(async () => {
    const exporterDown = `http://127.0.0.1:${await closedPort()}/metrics`;
    g = await startGateway(
      [
        // Three slots: the two direct requests leave the emulator room, so a wrong choice would still be answered.
        // keepAlive forever: at the harness's time scale Ollama's 5 minutes would unload the models in 6 s.
        { id: 'a', numParallel: 3, keepAlive: -1, models: [STEADY, ENDLESS], preload: ['steady', 'endless'], exporter: { cpus: 8, vramBytes: 4.5 * GIB } },
        { id: 'b', numParallel: 1, keepAlive: -1, models: [STEADY], preload: ['steady'], exporter: { cpus: 8, vramBytes: 24 * GIB } },
        { id: 'c', numParallel: 1, keepAlive: -1, models: [STEADY], preload: ['steady'] },
      ],
      (c) => {
        c.strategy.type = 'performance';
        c.healthCheck.intervalMs = 100;
        c.nodes[0].metricsUrl = `${c.nodes[0].url}/metrics`;
        c.nodes[1].metricsUrl = `${c.nodes[1].url}/metrics`;
        c.nodes[2].metricsUrl = exporterDown;
        // Generous probe deadlines: a check that is merely slow on a loaded machine must not fail.
        c.timeouts.healthCheckTimeoutMs = 3_000;
        c.timeouts.connectTimeoutMs = 3_000;
      },
      { routes: allRoutes },
    );
  });

  afterAll(async () => {
    direct.abort();
    await g?.close();
  });

  it('prefers the node its exporters say is idle, and still uses the node whose exporter is down', async () => {
    // Load node a behind the balancer's back: the balancer sees no request of its own there.
    const aUrl = g.sim.node('a').url;
    for (let i = 0; i < 2; i++) {
      void fetch(`${aUrl}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'endless', prompt: 'x' }), signal: direct.signal })
        .then((r) => r.body?.pipeTo(new WritableStream()))
        .catch(() => undefined);
    }
    await until(() => g.sim.node('a').state().inferenceInFlight === 2, 5_000, 'the direct load on a');
    // A scrape after the load: 8 CPUs × 2 requests / 3 slots, and 4 GiB of 4.5 resident.
    await until(() => (nodeOf('a').resources?.cpuLoadPerCore ?? 0) > 0.6, 5_000, "a's exporter to show the load");
    const a = nodeOf('a').resources!;
    expect(a.cpuLoadPerCore).toBeCloseTo(2 / 3, 5);
    expect(a.gpuMemFreeBytes).toBe(0.5 * GIB);
    expect(a.gpuUtil).toBeCloseTo(2 / 3, 2);
    expect(nodeOf('b').resources).toMatchObject({ cpuLoadPerCore: 0, gpuUtil: 0, gpuCount: 1 });
    expect(nodeOf('b').resources!.gpuMemFreeBytes).toBeGreaterThan(22 * GIB);
    expect(nodeOf('c').resources).toBeUndefined();
    expect(nodeOf('a').inFlight).toBe(0);

    const before = { a: generations('a'), b: generations('b'), c: generations('c') };
    const rounds = 8;
    for (let i = 0; i < rounds; i++) {
      // Two at once: b (1 slot) takes one, and the other goes to c, whose unknown load scores
      // between a's and b's, rather than to a, which has free slots as far as the balancer counts.
      const answers = await Promise.all(
        [0, 1].map(() => fetch(`${g.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'steady', prompt: `round ${i}`, stream: false }) })),
      );
      for (const r of answers) {
        expect(r.status).toBe(200);
        expect((await r.json()) as { done: boolean }).toMatchObject({ done: true });
      }
    }
    const served = { a: generations('a') - before.a, b: generations('b') - before.b, c: generations('c') - before.c };
    expect(served.a).toBe(0);
    expect(served.b + served.c).toBe(2 * rounds);
    expect(served.c).toBeGreaterThan(0);
    expect(nodeOf('c').health).toBe('HEALTHY');
  });

  it('shows the signals in /api/stats and /metrics, and counts the failed scrapes', async () => {
    // b's last scrape may have caught it serving the last round: wait for one that finds it idle.
    await until(() => nodeOf('b').resources?.cpuLoadPerCore === 0 && nodeOf('b').resources?.gpuUtil === 0, 5_000, "b's exporter to show it idle");
    const stats = (await (await fetch(`${g.url}/api/stats`)).json()) as StatsBody;
    expect(stats.instances.a.cpu_load).toBeGreaterThan(0.6);
    expect(stats.instances.b.cpu_load).toBe(0);
    expect(stats.instances.b.gpu_free_mem).toBeGreaterThan(22 * 1024);
    expect(stats.instances.b.resources).toMatchObject({ gpus: 1, gpu_util: 0, mem_free_ratio: expect.any(Number), age_ms: expect.any(Number) });
    expect(stats.instances.c).toMatchObject({ cpu_load: null, gpu_free_mem: null, resources: null, state: 'healthy' });

    const text = await (await fetch(`${g.url}/metrics`)).text();
    const names = ['ollama_lb_node_resource_scrapes_total', 'ollama_lb_node_cpu_load_per_core', 'ollama_lb_node_gpu_memory_free_bytes', 'ollama_lb_node_resource_age_seconds'];
    const samples = parsePrometheusText(text, new Set(names));
    const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('ollama_lb_node_resource_scrapes_total', { node: 'c', outcome: 'refused' })).toBeGreaterThan(0);
    expect(value('ollama_lb_node_resource_scrapes_total', { node: 'c', outcome: 'ok' })).toBe(0);
    expect(value('ollama_lb_node_resource_scrapes_total', { node: 'a', outcome: 'ok' })).toBeGreaterThan(0);
    expect(value('ollama_lb_node_cpu_load_per_core', { node: 'a' })).toBeCloseTo(2 / 3, 5);
    expect(value('ollama_lb_node_gpu_memory_free_bytes', { node: 'b' })).toBeGreaterThan(22 * GIB);
    expect(value('ollama_lb_node_resource_age_seconds', { node: 'b' })).toBeLessThan(5);
    // No signals, no series: a node without them is not reported as idle.
    expect(value('ollama_lb_node_cpu_load_per_core', { node: 'c' })).toBeUndefined();
  });

  it('once the load ends, the exporter says so and nothing stays in flight', async () => {
    direct.abort();
    await until(() => g.sim.node('a').state().inferenceInFlight === 0, 5_000, 'the direct requests to end');
    await until(() => nodeOf('a').resources?.cpuLoadPerCore === 0, 5_000, "a's exporter to show it idle");
    expect(g.factory.getPoolView().live).toBe(0);
    expect(g.factory.getPoolView().nodes.every((n) => n.inFlight === 0)).toBe(true);
  });
});
