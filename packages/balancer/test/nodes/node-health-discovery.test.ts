// Health and discovery results, applied to a real Scheduler (fake dispatch).
import { applyDiscovery, applyHealth, applyNodeCommand } from '../../src/nodes/node-events';
import { fakeClockForEachTest, Harness, nodeSpec, settle } from '../helpers';

fakeClockForEachTest();

describe('applyHealth', () => {
  const check = (h: Harness, ok: boolean, error?: string) => applyHealth(h.scheduler, { nodeId: 'a', ok, error, at: Date.now() });

  test('failed checks degrade, then take the node down; one success restores it', () => {
    const h = new Harness(); // degradedThreshold 3, downThreshold 6 (defaults)
    const states: string[] = [];
    for (let i = 0; i < 6; i++) {
      check(h, false, `refused ${i}`);
      states.push(h.node('a').health);
    }
    expect(states).toEqual(['UNKNOWN', 'UNKNOWN', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'UNHEALTHY']);
    expect(h.node('a').lastError).toBe('refused 5');
    expect(h.node('a').isRoutable(Date.now())).toBe(false);
    check(h, true);
    expect(h.node('a').health).toBe('HEALTHY');
    expect(h.node('a').consecutiveHealthFailures).toBe(0);
    expect(h.node('a').lastError).toBe('refused 5'); // kept for the status page
    expect(h.node('a').lastHealthCheck).toBe(Date.now());
    expect(h.node('b').health).toBe('UNKNOWN');
  });

  test('an unknown node id is ignored', () => {
    const h = new Harness();
    expect(() => applyHealth(h.scheduler, { nodeId: 'zz', ok: false, at: 0 })).not.toThrow();
  });

  test('a node that answers again while its breaker is open gets its trial requests now, not after the recovery time', async () => {
    const h = new Harness({ config: (c) => (c.healthCheck.circuitBreakerRecoveryMs = 60_000) });
    const a = h.node('a');
    a.breaker.trip(Date.now());
    a.health = 'UNHEALTHY';
    await settle(100);
    check(h, true);
    expect(a.breaker.state).toBe('half-open');
    expect(a.isRoutable(Date.now())).toBe(true);
  });

  test('a failed check leaves an open breaker open', () => {
    const h = new Harness();
    h.node('a').breaker.trip(Date.now());
    check(h, false);
    expect(h.node('a').breaker.state).toBe('open');
  });

  test('a healthy check does not re-enable an admin-disabled node', () => {
    const h = new Harness();
    applyNodeCommand(h.scheduler, 'a', 'disable');
    check(h, true);
    expect(h.node('a').isRoutable(Date.now())).toBe(false);
  });
});

describe('applyDiscovery', () => {
  const NOW = 1_000_000;

  test('models from /api/tags are normalised, and clear what failed requests taught', () => {
    const h = new Harness();
    const a = h.node('a');
    a.missingModels.add('m:latest');
    applyDiscovery(h.scheduler, { nodeId: 'a', models: ['M', 'Qwen:7B'], at: NOW });
    expect([...(a.discoveredModels ?? [])].sort()).toEqual(['m:latest', 'qwen:7b']);
    expect(a.missingModels.size).toBe(0);
    expect(a.hasModel('m')).toBe(true);
    expect(a.hasModel('other')).toBe(false);
  });

  test('a discovery without /api/tags keeps the known models and the missing ones', () => {
    const h = new Harness();
    const a = h.node('a');
    a.discoveredModels = new Set(['m:latest']);
    a.missingModels.add('x:latest');
    applyDiscovery(h.scheduler, { nodeId: 'a', loaded: [], at: NOW });
    expect([...a.discoveredModels]).toEqual(['m:latest']);
    expect(a.missingModels.has('x:latest')).toBe(true);
  });

  test('/api/ps: new entries, known signatures kept, expiry updated, unloaded ones dropped unless in flight', () => {
    const h = new Harness();
    const a = h.node('a');
    a.loaded.set('hot:latest', { model: 'hot:latest', optionsSignature: 'num_ctx=8192', expiresAt: NOW + 10 });
    a.loaded.set('gone:latest', { model: 'gone:latest', optionsSignature: '', expiresAt: NOW + 10 });
    a.loaded.set('loading:latest', { model: 'loading:latest', optionsSignature: '', expiresAt: NOW + 10 });
    a.inFlightByModel.set('loading:latest', 1); // we just sent it a request: it is loading, not gone
    applyDiscovery(h.scheduler, {
      nodeId: 'a',
      loaded: [
        { model: 'HOT', optionsSignature: null, expiresAt: NOW + 300_000, sizeVram: 5 },
        { model: 'new', optionsSignature: null, expiresAt: NOW + 60_000 },
      ],
      at: NOW,
    });
    expect(Object.fromEntries([...a.loaded].map(([k, v]) => [k, [v.optionsSignature, v.expiresAt - NOW]]))).toEqual({
      'hot:latest': ['num_ctx=8192', 300_000],
      'new:latest': [null, 60_000],
      'loading:latest': ['', 10],
    });
    expect(a.loaded.get('hot:latest')?.sizeVram).toBe(5);
    expect(a.isHot('hot', 'num_ctx=8192', NOW)).toBe(true);
    expect(a.isHot('new', '', NOW)).toBe(true);
    expect(a.isHot('new', 'num_ctx=8192', NOW)).toBe(false);
  });

  test.each<[string, number | undefined, { before: string[]; ps: string[]; usedAfterProbe?: string }, number]>([
    ['two models at once, no eviction seen: the default 3 stands (2 is only a lower bound)', undefined, { before: [], ps: ['p', 'q'] }, 3],
    ['a model gone before its expiry: evicted, so the node holds what it showed at most', undefined, { before: ['p', 'q'], ps: ['r'] }, 2],
    ['gone but used after the probe read the list: not evidence, and kept', undefined, { before: ['p'], ps: ['r'], usedAfterProbe: 'p' }, 3],
    ['configured: kept whatever /api/ps shows', 5, { before: ['p', 'q'], ps: ['r'] }, 5],
  ])('/api/ps teaches the model limit: %s', (_n, configured, { before, ps, usedAfterProbe }, limit) => {
    const h = new Harness({ nodes: [{ ...nodeSpec('a'), ...(configured !== undefined && { maxLoadedModels: configured }) }] });
    const a = h.node('a');
    const entry = (m: string) => ({ model: m, optionsSignature: null, expiresAt: NOW + 60_000 });
    if (before.length > 0) applyDiscovery(h.scheduler, { nodeId: 'a', loaded: before.map(entry), probedAt: NOW - 10, at: NOW - 10 });
    if (usedAfterProbe) a.touchModel(usedAfterProbe, NOW + 1);
    applyDiscovery(h.scheduler, { nodeId: 'a', loaded: ps.map(entry), probedAt: NOW, at: NOW + 5 });
    expect(a.maxLoadedModels()).toBe(limit);
    if (usedAfterProbe) expect(a.isHot(usedAfterProbe, '', NOW + 5)).toBe(true);
  });

  test('a discovery without /api/ps leaves the loaded models alone', () => {
    const h = new Harness();
    const a = h.node('a');
    a.loaded.set('m:latest', { model: 'm:latest', optionsSignature: '', expiresAt: NOW + 10 });
    applyDiscovery(h.scheduler, { nodeId: 'a', models: ['m'], at: NOW });
    expect(a.loaded.has('m:latest')).toBe(true);
  });

  test('an unknown node id is ignored', () => {
    const h = new Harness();
    expect(() => applyDiscovery(h.scheduler, { nodeId: 'zz', models: ['m'], at: NOW })).not.toThrow();
  });

  test('a model discovered on a node makes queued requests for it routable there', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['m'] }), nodeSpec('b', { models: ['m'] })] });
    applyDiscovery(h.scheduler, { nodeId: 'b', models: ['m', 'x'], at: Date.now() });
    const r = h.submit({ model: 'x' });
    expect(h.dispatcher.one().job.nodeId).toBe('b');
    h.dispatcher.one().ok();
    await settle();
    expect(r.sink.ends).toHaveLength(1);
    h.expectIdle();
  });
});
