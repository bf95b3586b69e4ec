import type { HealthState } from '../../src/nodes/node';
import type { DiscoveryResult } from '../../src/nodes/discovery';
import { HealthMonitor, nextHealth, type HealthMonitorOptions } from '../../src/nodes/health-monitor';
import { OllamaProbe, type HealthResult } from '../../src/nodes/ollama-probe';
import { FakeOllama, closedPort } from './fake-ollama';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const READ_ONLY = ['/', '/api/version', '/api/tags', '/api/ps'];

describe('nextHealth', () => {
  const t = { degradedThreshold: 2, downThreshold: 4 };
  it.each([
    // [health, failures before, ok, health after, failures after]
    ['UNKNOWN', 0, true, 'HEALTHY', 0],
    ['UNHEALTHY', 9, true, 'HEALTHY', 0],
    ['DEGRADED', 3, true, 'HEALTHY', 0],
    ['HEALTHY', 0, false, 'HEALTHY', 1], // one blip
    ['HEALTHY', 1, false, 'DEGRADED', 2],
    ['DEGRADED', 2, false, 'DEGRADED', 3],
    ['DEGRADED', 3, false, 'UNHEALTHY', 4],
    ['UNHEALTHY', 4, false, 'UNHEALTHY', 5],
    ['UNKNOWN', 0, false, 'UNKNOWN', 1], // never reached, not yet judged
    ['UNKNOWN', 1, false, 'DEGRADED', 2],
    ['UNKNOWN', 3, false, 'UNHEALTHY', 4],
    ['UNHEALTHY', 0, false, 'UNHEALTHY', 1], // thresholds raised by a reload: worse states stick
  ] as Array<[HealthState, number, boolean, HealthState, number]>)('%s with %p failures, ok=%p -> %s/%p', (health, before, ok, after, count) => {
    expect(nextHealth({ health, consecutiveHealthFailures: before }, ok, t)).toEqual({ health: after, consecutiveHealthFailures: count });
  });

  it.each([
    [{ degradedThreshold: 0, downThreshold: 0 }, 'UNHEALTHY'],
    [{ degradedThreshold: 5, downThreshold: 1 }, 'UNHEALTHY'],
    [{ degradedThreshold: 1, downThreshold: 3 }, 'DEGRADED'],
  ])('odd thresholds %j: first failure gives %s', (th, health) => {
    expect(nextHealth({ health: 'HEALTHY', consecutiveHealthFailures: 0 }, false, th).health).toBe(health);
  });
});

describe('HealthMonitor', () => {
  let node: FakeOllama;
  let monitor: HealthMonitor | undefined;
  let health: HealthResult[];
  let discovery: DiscoveryResult[];

  const start = (over: Partial<HealthMonitorOptions> = {}) => {
    monitor = new HealthMonitor({
      intervalMs: 60_000,
      timeoutMs: 500,
      jitter: 0,
      onHealth: (r) => health.push(r),
      onDiscovery: (r) => discovery.push(r),
      ...over,
    });
    return monitor;
  };

  beforeEach(async () => {
    node = await FakeOllama.start();
    health = [];
    discovery = [];
  });
  afterEach(async () => {
    await monitor?.stop();
    monitor = undefined;
    // Whatever a test did, the monitor only ever used the read-only endpoints, with GET.
    for (const r of node.requests) {
      expect(READ_ONLY).toContain(r.path);
      expect(r.method).toBe('GET');
    }
    await node.close();
  });

  it('probes a new node at once: health and discovery', async () => {
    // Nothing here times out: a loaded machine must not turn a slow answer into a failed probe.
    start({ timeoutMs: 5_000 }).addNode({ id: 'n1', url: node.url });
    await node.waitFor('/api/version');
    await node.waitFor('/api/ps');
    await monitor!.checkNow('n1'); // settles anything still running
    expect(health[0]).toMatchObject({ nodeId: 'n1', ok: true, version: '0.12.6' });
    expect(discovery[0]).toMatchObject({ nodeId: 'n1', ok: true });
    expect(discovery[0].loaded?.length).toBe(2);
  });

  it('repeats on the interval', async () => {
    start({ intervalMs: 40, discoveryIntervalMs: 0 }).addNode({ id: 'n1', url: node.url });
    await sleep(300);
    const n = node.count('/api/version');
    expect(n).toBeGreaterThanOrEqual(3); // about 7; slack for two busy shared cores
    expect(n).toBeLessThanOrEqual(9);
    expect(node.count('/api/tags')).toBe(0); // discovery off
    expect(health.every((r) => r.ok)).toBe(true);
  });

  it('never overlaps a slow probe with the next one for the same node', async () => {
    node.faults.set('/api/version', { delayMs: 120 });
    node.faults.set('/api/tags', { delayMs: 120 });
    start({ intervalMs: 5, discoveryIntervalMs: 5 }).addNode({ id: 'n1', url: node.url });
    await node.waitFor('/api/version', 3);
    expect(node.maxConcurrent.get('/api/version')).toBe(1);
    expect(node.maxConcurrent.get('/api/tags')).toBe(1);
  });

  it('checkNow joins a probe in flight instead of doubling it', async () => {
    node.faults.set('/api/version', { delayMs: 100 });
    start({ discoveryIntervalMs: 0 }).addNode({ id: 'n1', url: node.url });
    await node.waitFor('/api/version');
    await Promise.all([monitor!.checkNow('n1'), monitor!.checkNow()]);
    expect(node.count('/api/version')).toBe(1);
    expect(health).toHaveLength(1);
    await monitor!.checkNow('n1');
    expect(node.count('/api/version')).toBe(2);
    await monitor!.checkNow('unknown'); // no such node: nothing to do
  });

  it('reports failures (refused, 500, timeout) through the same callback', async () => {
    const port = await closedPort();
    node.faults.set('/api/version', '500');
    const hung = await FakeOllama.start();
    hung.faults.set('/api/version', 'hang');
    try {
      start({ discoveryIntervalMs: 0, timeoutMs: 150 });
      monitor!.updateNodes([
        { id: 'down', url: `http://127.0.0.1:${port}` },
        { id: 'err', url: node.url },
        { id: 'hung', url: hung.url },
      ]);
      await hung.waitFor('/api/version');
      await monitor!.checkNow();
      const kinds = Object.fromEntries(health.map((r) => [r.nodeId, r.errorKind]));
      expect(kinds).toEqual({ down: 'refused', err: 'http', hung: 'timeout' });
    } finally {
      await monitor!.stop();
      await hung.close();
    }
  });

  it('stop() aborts and awaits probes in flight, drops their results, leaves no timers', async () => {
    node.faults.set('/api/version', 'hang');
    node.faults.set('/api/tags', 'hang');
    start({ timeoutMs: 10_000, intervalMs: 20 }).addNode({ id: 'n1', url: node.url });
    await node.waitFor('/api/version');
    await node.waitFor('/api/tags');
    const t0 = Date.now();
    await monitor!.stop();
    // Far below the probes' 10 s timeout: they were aborted, not awaited out (room for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(health).toHaveLength(0);
    expect(discovery).toHaveLength(0);
    const seen = node.requests.length;
    await sleep(80);
    expect(node.requests.length).toBe(seen);
    // Idempotent, and the monitor is inert afterwards.
    await monitor!.stop();
    monitor!.addNode({ id: 'n2', url: node.url });
    await monitor!.checkNow();
    expect(monitor!.nodeIds).toEqual([]);
  });

  it('removeNode stops probing it and drops a result in flight', async () => {
    node.faults.set('/api/version', { delayMs: 80 });
    start({ intervalMs: 20, discoveryIntervalMs: 0 }).addNode({ id: 'n1', url: node.url });
    await node.waitFor('/api/version');
    monitor!.removeNode('n1');
    await sleep(150);
    expect(node.count('/api/version')).toBe(1);
    expect(health).toHaveLength(0);
    expect(monitor!.nodeIds).toEqual([]);
  });

  it('updateNodes adds, removes, and restarts a node whose URL changed', async () => {
    const other = await FakeOllama.start();
    try {
      start({ discoveryIntervalMs: 0 });
      monitor!.updateNodes([
        { id: 'a', url: node.url },
        { id: 'b', url: node.url },
      ]);
      await node.waitFor('/api/version', 2);
      monitor!.updateNodes([
        { id: 'a', url: node.url }, // unchanged: not probed again
        { id: 'c', url: other.url }, // new
      ]);
      expect(monitor!.nodeIds.sort()).toEqual(['a', 'c']);
      await other.waitFor('/api/version');
      monitor!.updateNodes([{ id: 'a', url: other.url }]); // moved
      await other.waitFor('/api/version', 2);
      await monitor!.checkNow();
      expect(node.count('/api/version')).toBe(2);
      expect(monitor!.nodeIds).toEqual(['a']);
    } finally {
      await monitor!.stop();
      await other.close();
    }
  });

  it('a throwing callback is reported and monitoring goes on', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    start({
      intervalMs: 20,
      discoveryIntervalMs: 0,
      onHealth: () => {
        calls++;
        throw new Error('scheduler hiccup');
      },
      onError: (e) => errors.push(e),
    }).addNode({ id: 'n1', url: node.url });
    await node.waitFor('/api/version', 3);
    await monitor!.checkNow();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(errors.length).toBe(calls);
  });

  it('uses GET / when asked, and a shared probe it does not close', async () => {
    const probe = new OllamaProbe({ timeoutMs: 500, healthPath: '/' });
    try {
      start({ probe, discoveryIntervalMs: 0 }).addNode({ id: 'n1', url: node.url });
      await monitor!.checkNow();
      await monitor!.stop();
      expect(node.count('/')).toBeGreaterThanOrEqual(1);
      expect(health[0]).toMatchObject({ ok: true });
      expect(await probe.checkHealth({ id: 'n1', url: node.url })).toMatchObject({ ok: true });
    } finally {
      await probe.close();
    }
  });

  it('fromConfig takes intervals and timeouts from the config; discovery.enabled: false reads no /api/tags', async () => {
    monitor = HealthMonitor.fromConfig(
      {
        healthCheck: {
          intervalMs: 30_000,
          discoveryIntervalMs: 30_000,
          degradedThreshold: 3,
          downThreshold: 6,
          circuitBreakerFailureThreshold: 5,
          circuitBreakerRecoveryMs: 30_000,
          halfOpenRequests: 1,
        },
        timeouts: { requestTimeoutMs: 1, connectTimeoutMs: 1000, healthCheckTimeoutMs: 500, firstByteTimeoutMs: 1, idleTimeoutMs: 1, routes: { chat: {}, embeddings: {} } },
        failover: { adaptive: true, firstByteFactor: 2, firstByteMarginMs: 500, stallFactor: 50, minStallMs: 2000, streamUpstream: true, probeTimeoutMs: 300 },
        discovery: { enabled: false },
      },
      { onHealth: (r) => health.push(r) },
    );
    monitor.addNode({ id: 'n1', url: node.url });
    await monitor.checkNow();
    expect(health[0]).toMatchObject({ ok: true });
    expect(node.count('/api/tags')).toBe(0);
  });
});
