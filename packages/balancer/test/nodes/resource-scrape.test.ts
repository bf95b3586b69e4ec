// Scraping a node's exporter: every outcome, credentials and the query of a metricsUrl, and the
// health monitor scraping only nodes that have one, without an exporter's failure touching health.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HealthMonitor } from '../../src/nodes/health-monitor';
import { OllamaProbe, type HealthResult } from '../../src/nodes/ollama-probe';
import { type ResourceScrape, scrapeResources } from '../../src/nodes/resource-scrape';
import { FakeOllama, closedPort } from './fake-ollama';

const PAGE = '# TYPE node_load1 gauge\nnode_load1 1.5\nnode_cpu_seconds_total{cpu="0",mode="idle"} 1\nnode_cpu_seconds_total{cpu="1",mode="idle"} 1\n';

/** An exporter whose answer the test sets; it records each request's URL and authorization. */
class Exporter {
  status = 200;
  body = PAGE;
  hang = false;
  readonly seen: { url: string; auth?: string }[] = [];
  private constructor(
    private readonly server: Server,
    readonly base: string,
  ) {}

  static async start(): Promise<Exporter> {
    let self: Exporter | undefined;
    const server = createServer((req, res) => self?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new Exporter(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  private handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    this.seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    if (this.hang) return;
    res.writeHead(this.status, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(this.body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let exporter: Exporter;
let probe: OllamaProbe;
beforeEach(async () => {
  exporter = await Exporter.start();
  probe = new OllamaProbe({ timeoutMs: 3000 });
});
afterEach(async () => {
  await probe.close();
  await exporter.close();
});

describe('scrapeResources', () => {
  it('reads the signals, sending the URL’s credentials as basic auth and keeping its path and query', async () => {
    const url = exporter.base.replace('http://', 'http://ring:p%40ss@') + '/x/metrics?collect%5B%5D=cpu';
    const r = await scrapeResources(probe, { id: 'n1', metricsUrl: url });
    expect(r).toMatchObject({ nodeId: 'n1', outcome: 'ok', signals: { cpuLoadPerCore: 0.75 } });
    expect(Math.abs(r.checkedAt - Date.now())).toBeLessThan(1000);
    expect(exporter.seen).toEqual([{ url: '/x/metrics?collect%5B%5D=cpu', auth: `Basic ${Buffer.from('ring:p@ss').toString('base64')}` }]);
  });

  it.each([
    ['an exposition without any of the families', 'empty', () => (exporter.body = 'up 1\n'), /none of the resource metrics/],
    ['an HTTP error', 'http', () => (exporter.status = 404), /GET \/metrics: HTTP 404/],
    ['a malformed line of a family it reads', 'malformed', () => (exporter.body = 'node_load1 high\n'), /line 1: node_load1: expected a value/],
  ] as Array<[string, ResourceScrape['outcome'], () => void, RegExp]>)('%s: no signals, outcome %s', async (_name, outcome, setup, error) => {
    setup();
    const r = await scrapeResources(probe, { id: 'n1', metricsUrl: `${exporter.base}/metrics` });
    expect(r).toMatchObject({ outcome, error: expect.stringMatching(error) });
    expect(r.signals).toBeUndefined();
  });

  it('nothing listening: refused', async () => {
    const r = await scrapeResources(probe, { id: 'n1', metricsUrl: `http://127.0.0.1:${await closedPort()}/metrics` });
    expect(r).toMatchObject({ outcome: 'refused', error: expect.stringMatching(/connection refused/) });
  });

  it('no answer within the probe deadline: timeout, with the password masked in the error', async () => {
    exporter.hang = true;
    const short = new OllamaProbe({ timeoutMs: 200 });
    try {
      const r = await scrapeResources(short, { id: 'n1', metricsUrl: exporter.base.replace('http://', 'http://u:secret@') + '/metrics' });
      expect(r.outcome).toBe('timeout');
      expect(r.error).not.toContain('secret');
    } finally {
      await short.close();
    }
  });
});

describe('HealthMonitor scrapes exporters', () => {
  let node: FakeOllama;
  let monitor: HealthMonitor | undefined;
  beforeEach(async () => {
    node = await FakeOllama.start();
  });
  afterEach(async () => {
    await monitor?.stop();
    monitor = undefined;
    await node.close();
  });

  it('on the health interval, only nodes with a metricsUrl, and a dead exporter leaves health alone', async () => {
    const health: HealthResult[] = [];
    const scrapes: ResourceScrape[] = [];
    monitor = new HealthMonitor({ intervalMs: 100, discoveryIntervalMs: 0, timeoutMs: 1000, jitter: 0, onHealth: (r) => health.push(r), onResources: (r) => scrapes.push(r) });
    const dead = `http://127.0.0.1:${await closedPort()}/metrics`;
    monitor.updateNodes([
      { id: 'live', url: node.url, metricsUrl: `${exporter.base}/metrics` },
      { id: 'dead', url: node.url, metricsUrl: dead },
      { id: 'none', url: node.url },
    ]);
    const until = Date.now() + 5000;
    while (scrapes.filter((s) => s.nodeId === 'live').length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(scrapes.filter((s) => s.nodeId === 'live').length).toBeGreaterThanOrEqual(3);
    expect(scrapes.filter((s) => s.nodeId === 'live').every((s) => s.outcome === 'ok')).toBe(true);
    expect(scrapes.filter((s) => s.nodeId === 'dead').every((s) => s.outcome === 'refused')).toBe(true);
    expect(scrapes.some((s) => s.nodeId === 'none')).toBe(false);
    expect(health.filter((h) => h.nodeId === 'dead').every((h) => h.ok)).toBe(true);
    expect(health.some((h) => h.nodeId === 'dead')).toBe(true);
  });

  it('a new metricsUrl for a known node restarts its scrapes at the new address', async () => {
    const scrapes: ResourceScrape[] = [];
    monitor = new HealthMonitor({ intervalMs: 60_000, discoveryIntervalMs: 0, timeoutMs: 1000, onHealth: () => undefined, onResources: (r) => scrapes.push(r) });
    monitor.updateNodes([{ id: 'a', url: node.url }]);
    await monitor.checkNow();
    expect(scrapes).toEqual([]);
    monitor.updateNodes([{ id: 'a', url: node.url, metricsUrl: `${exporter.base}/metrics` }]);
    await monitor.checkNow();
    expect(scrapes.map((s) => s.outcome)).toContain('ok');
    expect(exporter.seen.length).toBeGreaterThanOrEqual(1);
  });
});
