import { allRoutes, type HealthBody, type StatsBody } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/** One sample of Prometheus text: `name{a="x",b="y"} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (the subset prom-client writes: no timestamps, no escapes in our labels). */
function parseProm(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

const sum = (s: Sample[], name: string, where: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const generate = (url: string, extra: Record<string, unknown> = {}) =>
  fetch(`${url}/api/generate`, {
    method: 'POST',
    body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 8 }, ...extra }),
  });

describe('health, readiness, metrics and stats', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      (c) => {
        c.strategy.type = 'round-robin';
        c.healthCheck.intervalMs = 100;
        c.healthCheck.discoveryIntervalMs = 100;
        // A refused connection fails a check at once, so two checks take a node down quickly; the
        // generous timeouts keep a check that is merely slow (a loaded test machine) from failing.
        c.healthCheck.degradedThreshold = 2;
        c.healthCheck.downThreshold = 2;
        c.timeouts.healthCheckTimeoutMs = 3_000;
        c.timeouts.connectTimeoutMs = 3_000;
      },
      { routes: allRoutes },
    );
  });
  afterAll(() => g.close());

  test('GET /health: 200 with per-node detail; HEAD too; /ready is 200', async () => {
    const res = await fetch(`${g.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as HealthBody;
    expect(body).toMatchObject({ status: 'ok', serving: 2, total: 2 });
    expect(body.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(body.nodes[0]).toMatchObject({ health: 'HEALTHY', can_serve: true, circuit_breaker: 'closed', in_flight: 0, max_concurrent: 2 });
    expect((await fetch(`${g.url}/health`, { method: 'HEAD' })).status).toBe(200);
    // Seed 004's path answers the same, without credentials, GET and HEAD.
    const api = await fetch(`${g.url}/api/health`);
    expect(api.status).toBe(200);
    expect(await api.json()).toEqual(body);
    expect((await fetch(`${g.url}/api/health`, { method: 'HEAD' })).status).toBe(200);
    const ready = await fetch(`${g.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', state: { backend: 'memory', shared: true, since: expect.any(String) } });
  });

  test('metrics: scraped and parsed after some requests; families, labels and counts add up', async () => {
    const n = 6;
    for (let i = 0; i < n; i++) expect((await generate(g.url)).status).toBe(200);
    expect((await generate(g.url, { model: 'nope' })).status).toBe(404);
    const res = await fetch(`${g.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseProm(await res.text());
    expect(types.get('ollama_lb_requests_total')).toBe('counter');
    expect(types.get('ollama_lb_request_latency_seconds')).toBe('histogram');
    expect(types.get('ollama_lb_node_inflight')).toBe('gauge');
    // Round-robin: the successes are split evenly, and labelled with the normalised model.
    expect(sum(samples, 'ollama_lb_requests_total', { model: 'llama3.2:latest', node: 'a', outcome: 'success' })).toBe(n / 2);
    expect(sum(samples, 'ollama_lb_requests_total', { model: 'llama3.2:latest', node: 'b', outcome: 'success' })).toBe(n / 2);
    expect(sum(samples, 'ollama_lb_errors_total', { type: 'ERR_MODEL_NOT_FOUND' })).toBe(1);
    expect(sum(samples, 'ollama_lb_request_latency_seconds_count', { model: 'llama3.2:latest' })).toBe(n);
    expect(samples.some((s) => s.name === 'ollama_lb_request_latency_seconds_bucket' && s.labels.le === '+Inf')).toBe(true);
    expect(sum(samples, 'ollama_lb_node_max_concurrent', { node: 'a' })).toBe(2);
    expect(sum(samples, 'ollama_lb_node_inflight')).toBe(0);
    expect(sum(samples, 'ollama_lb_node_health', { node: 'b' })).toBe(1);
    expect(sum(samples, 'ollama_lb_health_checks_total', { node: 'a', outcome: 'ok' })).toBeGreaterThan(0);
    expect(sum(samples, 'ollama_lb_tokens_generated_total')).toBeGreaterThan(0);
  });

  test('/api/stats: counts, per-node activity and the queue', async () => {
    const res = await fetch(`${g.url}/api/stats`);
    expect(res.status).toBe(200);
    const s = (await res.json()) as StatsBody;
    expect(s).toMatchObject({
      total_instances: 2,
      healthy_instances: 2,
      degraded_instances: 0,
      unhealthy_instances: 0,
      strategy: 'round-robin',
      requests_in_progress: 0,
      queue: { depth: 0, by_model: {} },
    });
    expect(Object.keys(s.instances).sort()).toEqual(['a', 'b']);
    for (const i of Object.values(s.instances)) {
      expect(i).toMatchObject({ state: 'healthy', active_requests: 0, error_rate: 0, circuit_breaker_open: false, max_concurrent: 2 });
      // Every check so far should have passed; allow for one that a loaded machine made slow.
      expect(i.availability).toBeGreaterThan(80);
      expect(i.availability).toBeLessThanOrEqual(100);
      expect(i.total_requests).toBeGreaterThanOrEqual(3);
      expect(i.avg_response_time).toBeGreaterThan(0);
      expect(i.models_loaded).toEqual(['llama3.2:latest']);
    }
  });

  test('every node refused: /health turns 503 (Ollama error shape too), listings 503; back to 200 when they return', async () => {
    for (const id of ['a', 'b']) g.sim.node(id).refuse();
    try {
      await until(async () => (await fetch(`${g.url}/health`)).status === 503, 3_000, 'health 503');
      const body = (await (await fetch(`${g.url}/health`)).json()) as HealthBody;
      expect(body).toMatchObject({ status: 'unavailable', error: 'no node can serve requests', serving: 0, total: 2 });
      expect(body.nodes.every((n) => !n.can_serve && n.health === 'UNHEALTHY')).toBe(true);
      const api = await fetch(`${g.url}/api/health`);
      expect(api.status).toBe(503);
      expect(await api.json()).toMatchObject({ status: 'unavailable', error: 'no node can serve requests', serving: 0, total: 2 });
      const tags = await fetch(`${g.url}/api/tags`);
      expect(tags.status).toBe(503);
      expect(tags.headers.get('retry-after')).toBe('5');
      expect(((await fetch(`${g.url}/api/stats`).then((r) => r.json())) as StatsBody).unhealthy_instances).toBe(2);
      // Readiness is about the gateway, not the pool.
      expect((await fetch(`${g.url}/ready`)).status).toBe(200);
    } finally {
      for (const id of ['a', 'b']) await g.sim.node(id).accept();
    }
    await until(async () => (await fetch(`${g.url}/health`)).status === 200, 3_000, 'health 200 again');
    expect((await generate(g.url)).status).toBe(200);
  });
});
