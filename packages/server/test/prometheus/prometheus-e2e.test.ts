import { join } from 'node:path';
import { eventually, inFlight } from '../../../balancer/test/e2e/harness';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { dashboardQueries, readDashboard } from './dashboard';
import { CHAT_MODEL, LOAD_NODES, scrape } from './load';
import { startPrometheus, type PrometheusServer } from './prometheus-server';
import { REPO } from './tools';

// A real Prometheus server scrapes a gateway in front of the emulator, with the shipped alert rules
// loaded; the test reads what it stored and what its rules say through Prometheus's HTTP API.

interface RuleGroups {
  groups: { name: string; rules: { name: string; type: string; health: string; state?: string; lastError?: string }[] }[];
}
interface Alerts {
  alerts: { labels: Record<string, string>; state: string }[];
}

/** Polls `read` until `done` accepts its value; fails with the last value after `ms`. */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 30_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a real Prometheus scraping the gateway, with the shipped alert rules', () => {
  let h: GatewayHarness;
  let prom: PrometheusServer;
  beforeAll(async () => {
    h = await startGateway(
      LOAD_NODES,
      (c) => {
        // Nodes found down within a second, so the alert rules see it while the test runs.
        c.healthCheck.intervalMs = 100;
        c.healthCheck.degradedThreshold = 1;
        c.healthCheck.downThreshold = 2;
      },
      { routes: allRoutes },
    );
    prom = await startPrometheus(new URL(h.url).host, [join(REPO, 'deploy', 'prometheus', 'alerts.yml')]);
  });
  afterAll(async () => {
    await prom?.close();
    await h?.close();
  });

  it('stores the request counter as the gateway counts it, and the target is up', async () => {
    const sent = 5;
    for (let i = 0; i < sent; i++) {
      const res = await fetch(`${h.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: `hi ${i}` }] }) });
      expect(res.status).toBe(200);
      await res.text();
    }
    // The gateway's own count, straight from /metrics.
    const own = [...(await scrape(h.url)).matchAll(/^ollama_lb_requests_total\{model="llama3\.2:latest",node="[^"]+",outcome="success"\} (\d+)$/gm)].reduce(
      (s, m) => s + Number(m[1]),
      0,
    );
    expect(own).toBe(sent);
    const stored = await until(
      () => prom.query('sum(ollama_lb_requests_total{job="ollama-ring",model="llama3.2:latest",outcome="success"})'),
      (r) => r.length === 1 && Number(r[0].value[1]) === sent,
      30_000,
      'Prometheus to scrape the request count',
    );
    expect(Number(stored[0].value[1])).toBe(sent);
    const up = await prom.query('up{job="ollama-ring"}');
    expect(up.map((s) => [s.metric.instance, s.value[1]])).toEqual([[new URL(h.url).host, '1']]);
    expect(Object.values(inFlight(h)).every((n) => n === 0)).toBe(true);
  });

  it('answers every query of the Grafana dashboard, with data for the pool overview', async () => {
    // A one-minute window: the server has only run for seconds, and a rate needs two samples in it.
    for (const q of dashboardQueries(readDashboard(), '1m')) {
      await expect(prom.query(q.expr).then(() => q.where)).resolves.toBe(q.where);
    }
    // More requests now that Prometheus has a sample before them, so that the rate has a rise.
    for (let i = 0; i < 3; i++) await (await fetch(`${h.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: CHAT_MODEL, prompt: 'more', stream: false }) })).text();
    const byTitle = (title: string) => dashboardQueries(readDashboard(), '1m').find((q) => q.where.includes(`"${title}" A`))?.expr ?? '';
    const rate = await until(
      () => prom.query(byTitle('Requests/s')),
      (r) => r.length === 1 && Number(r[0].value[1]) > 0,
      30_000,
      'a request rate',
    );
    expect(Number(rate[0].value[1])).toBeGreaterThan(0);
    const healthy = await prom.query(byTitle('Nodes serving'));
    expect(healthy.map((r) => r.value[1])).toEqual(['2']);
    const slots = await prom.query(byTitle('Slots in use'));
    expect(slots.map((r) => r.value[1])).toEqual(['0']);
  });

  it('loads every rule, evaluates each without error, and none is firing on a healthy pool', async () => {
    const data = await until(
      () => prom.api<RuleGroups>('rules'),
      (d) => d.groups.some((g) => g.rules.every((r) => r.health === 'ok')),
      30_000,
      'the rules to be evaluated',
    );
    const group = data.groups.find((g) => g.name === 'ollama-ring');
    expect(group?.rules.length).toBe(9);
    for (const r of group?.rules ?? [])
      expect({ rule: r.name, type: r.type, health: r.health, state: r.state }).toEqual({ rule: r.name, type: 'alerting', health: 'ok', state: 'inactive' });
  });

  it('puts NodeDown and ModelUnavailable in pending once every node is down, and clears them when they are back', async () => {
    for (const n of h.sim.nodes) h.sim.node(n.id).refuse();
    try {
      await eventually(
        () =>
          h.factory
            .getNodeRegistry()
            .getAllNodes()
            .every((n) => n.health === 'UNHEALTHY'),
        10_000,
        'the gateway to find the nodes down',
      );
      const pending = await until(
        () => prom.api<Alerts>('alerts'),
        (d) => d.alerts.filter((a) => a.state === 'pending' && a.labels.alertname !== 'OllamaRingBreakerOpen').length >= 4,
        30_000,
        'the alerts to go pending',
      );
      // (A breaker that opened meanwhile may be pending too: not what this test looks at.)
      const seen = pending.alerts
        .filter((a) => a.labels.alertname !== 'OllamaRingBreakerOpen')
        .map((a) => `${a.labels.alertname} ${a.labels.node ?? a.labels.model} ${a.state}`)
        .sort();
      expect(seen).toEqual(
        [
          'OllamaRingModelUnavailable llama3.2:latest pending',
          'OllamaRingModelUnavailable nomic-embed-text:latest pending',
          'OllamaRingNodeDown gpu-a pending',
          'OllamaRingNodeDown gpu-b pending',
        ].sort(),
      );
      const serving = await prom.query('ollama_lb_model_nodes_serving{job="ollama-ring"}');
      expect(serving.map((s) => s.value[1])).toEqual(['0', '0']);
    } finally {
      for (const n of h.sim.nodes) await h.sim.node(n.id).accept();
    }
    await eventually(
      () =>
        h.factory
          .getNodeRegistry()
          .getAllNodes()
          .every((n) => n.health === 'HEALTHY'),
      10_000,
      'the nodes to be healthy again',
    );
    await until(
      () => prom.api<Alerts>('alerts'),
      (d) => d.alerts.length === 0,
      30_000,
      'the alerts to clear',
    );
  });
});
