import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, StrategyFactory } from '@ollama-ring/balancer';
import { allRoutes, Gateway } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

type Json = Record<string, unknown>;

async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

/** Which node served each of `n` sequential requests. */
async function servedBy(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 4 } }),
    });
    expect(res.status).toBe(200);
    out.push(res.headers.get('x-ollama-ring-node') ?? '?');
    await res.json();
  }
  return out;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The health-check count of a node, from the metrics. */
async function healthChecks(g: GatewayHarness, node: string): Promise<number> {
  const text = await g.factory.getMetricsRegistry().scrape();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^ollama_lb_health_checks_total\\{node="${node}",outcome="\\w+"\\} (\\d+)$`, 'gm'))) n += Number(m[1]);
  return n;
}

const fastHealth = (c: import('@ollama-ring/balancer').BalancerConfig) => {
  c.healthCheck.intervalMs = 50;
  c.healthCheck.discoveryIntervalMs = 50;
  // Slow checks on a loaded machine must not take nodes out of routing mid-test.
  c.timeouts.healthCheckTimeoutMs = 3_000;
  c.healthCheck.degradedThreshold = 3;
  c.healthCheck.downThreshold = 5;
};

describe('admin API (no token: loopback clients)', () => {
  let g: GatewayHarness;
  let dir: string;
  let file: string;
  const strategies = (n: string) => StrategyFactory.resolve(n) !== undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ollama-ring-admin-'));
    file = join(dir, 'config.yaml');
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 1 },
        { id: 'b', models: ['llama3.2'], numParallel: 1 },
      ],
      (c) => {
        c.strategy.type = 'round-robin';
        fastHealth(c);
      },
      { routes: allRoutes, loadConfig: () => loadConfig(file, { env: {}, strategies }).config },
    );
  });
  afterAll(async () => {
    await g.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('GET /admin/nodes lists the nodes with their state', async () => {
    const r = await call(g.url, 'GET', '/admin/nodes');
    expect(r.status).toBe(200);
    const nodes = r.body.nodes as Json[];
    expect(nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(nodes[0]).toMatchObject({ health: 'HEALTHY', canServe: true, adminDisabled: false, draining: false, maxConcurrent: 1, models: ['llama3.2:latest'] });
  });

  test.each([
    ['malformed JSON', '{"id":', /^invalid JSON: /],
    ['an array', '[]', /^request body must be a JSON object$/],
    ['no id', { url: 'http://127.0.0.1:1' }, /^invalid node: id: is required$/],
    ['no url', { id: 'x' }, /^invalid node: url: is required$/],
    ['a non-http url', { id: 'x', url: 'ftp://h' }, /^invalid node: url: must be an http/],
    ['zero slots', { id: 'x', url: 'http://127.0.0.1:1', maxConcurrentRequests: 0 }, /^invalid node: maxConcurrentRequests: must be >= 1/],
    ['a string for slots', { id: 'x', url: 'http://127.0.0.1:1', maxConcurrentRequests: '2' }, /maxConcurrentRequests: must be integer/],
    ['models not a list', { id: 'x', url: 'http://127.0.0.1:1', models: 'llama3.2' }, /models: must be array/],
    ['a negative weight', { id: 'x', url: 'http://127.0.0.1:1', weight: -1 }, /weight: must be > 0/],
    ['an id with a slash', { id: 'a/b', url: 'http://127.0.0.1:1' }, /^invalid node: id: /],
    ['an unknown key (a typo)', { id: 'x', url: 'http://127.0.0.1:1', maxConcurrent: 2 }, /^invalid node: maxConcurrent: unknown key$/],
  ])('POST /admin/nodes with %s: 400', async (_l, body, message) => {
    const r = await call(g.url, 'POST', '/admin/nodes', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(message);
    expect(g.factory.getNodeRegistry().getNode('x')).toBeUndefined();
  });

  test('POST /admin/nodes: a duplicate id is 409', async () => {
    const r = await call(g.url, 'POST', '/admin/nodes', { id: 'a', url: g.sim.node('a').url });
    expect(r).toEqual({ status: 409, body: { error: "node 'a' already exists" } });
  });

  test('add a node: 201, its models learned at once, and it takes requests; delete: gone', async () => {
    const add = await call(g.url, 'POST', '/admin/nodes', { id: 'c', url: g.sim.node('b').url, maxConcurrentRequests: 1, tags: ['extra'] });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ id: 'c', maxConcurrent: 1, tags: ['extra'], weight: 1, enabled: true, models: ['llama3.2:latest'] });
    expect(new Set(await servedBy(g.url, 3))).toEqual(new Set(['a', 'b', 'c']));
    const del = await call(g.url, 'DELETE', '/admin/nodes/c');
    expect(del).toEqual({ status: 200, body: { id: 'c', status: 'removed' } });
    expect(((await call(g.url, 'GET', '/admin/nodes')).body.nodes as Json[]).map((n) => n.id)).toEqual(['a', 'b']);
    expect(await call(g.url, 'DELETE', '/admin/nodes/c')).toEqual({ status: 404, body: { error: "no node 'c'" } });
  });

  test('delete a busy node: 202 while it drains, its request finishes, then it is gone', async () => {
    expect((await call(g.url, 'POST', '/admin/nodes', { id: 'c', url: g.sim.node('b').url })).status).toBe(201);
    await call(g.url, 'POST', '/admin/nodes/a/disable');
    await call(g.url, 'POST', '/admin/nodes/b/disable');
    // `c` is sim node b under another name: slow it to about 20 ms a token, so the stream outlasts the DELETE.
    g.sim.node('b').setFaults({ slowdown: 50 });
    try {
      const res = await fetch(`${g.url}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: 'llama3.2', prompt: 'x', options: { num_predict: 40 } }),
      });
      expect(res.headers.get('x-ollama-ring-node')).toBe('c');
      const del = await call(g.url, 'DELETE', '/admin/nodes/c');
      expect(del).toEqual({ status: 202, body: { id: 'c', status: 'draining', in_flight: 1 } });
      const lines = (await res.text()).trim().split('\n');
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ done: true });
      await until(() => !g.factory.getPoolView().nodes.some((n) => n.id === 'c'), 2_000, 'c dropped');
    } finally {
      g.sim.node('b').clearFaults();
      await call(g.url, 'POST', '/admin/nodes/a/enable');
      await call(g.url, 'POST', '/admin/nodes/b/enable');
    }
  });

  test('disable: the node stays out across health checks; enable brings it back', async () => {
    const r = await call(g.url, 'POST', '/admin/nodes/b/disable');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'b', adminDisabled: true, canServe: false });
    const before = await healthChecks(g, 'b');
    await until(async () => (await healthChecks(g, 'b')) >= before + 3, 2_000, 'three health checks of b');
    const b = ((await call(g.url, 'GET', '/admin/nodes')).body.nodes as Json[]).find((n) => n.id === 'b');
    expect(b).toMatchObject({ health: 'HEALTHY', adminDisabled: true, canServe: false });
    expect(await servedBy(g.url, 4)).toEqual(['a', 'a', 'a', 'a']);
    expect((await call(g.url, 'POST', '/admin/nodes/b/enable')).body).toMatchObject({ adminDisabled: false, canServe: true });
    expect(new Set(await servedBy(g.url, 4))).toEqual(new Set(['a', 'b']));
  });

  test('drain: no new requests; enable undoes it', async () => {
    expect((await call(g.url, 'POST', '/admin/nodes/a/drain')).body).toMatchObject({ id: 'a', draining: true, canServe: false });
    expect(await servedBy(g.url, 3)).toEqual(['b', 'b', 'b']);
    expect((await call(g.url, 'POST', '/admin/nodes/a/enable')).body).toMatchObject({ draining: false, canServe: true });
  });

  test.each(['enable', 'disable', 'drain'])('%s an unknown node: 404', async (action) => {
    expect(await call(g.url, 'POST', `/admin/nodes/zz/${action}`)).toEqual({ status: 404, body: { error: "no node 'zz'" } });
  });

  test('strategy: read, switch by alias (visible in routing), switch back; unknown names are 400', async () => {
    const before = await call(g.url, 'GET', '/admin/strategy');
    expect(before.body).toMatchObject({ strategy: 'round-robin', configured: 'round-robin' });
    expect(before.body.available).toContain('least-in-flight');

    const set = await call(g.url, 'POST', '/admin/strategy', { strategy: 'least_conn' });
    expect(set).toMatchObject({ status: 200, body: { strategy: 'least-in-flight', previous: 'round-robin' } });
    // Sequential requests leave both nodes idle: least-in-flight breaks the tie by id, every time.
    expect(await servedBy(g.url, 4)).toEqual(['a', 'a', 'a', 'a']);

    expect((await call(g.url, 'POST', '/admin/strategy', { strategy: 'round-robin' })).body.strategy).toBe('round-robin');
    expect(new Set(await servedBy(g.url, 4))).toEqual(new Set(['a', 'b']));

    for (const bad of [{ strategy: 'fastest' }, { strategy: 5 }, {}]) {
      const r = await call(g.url, 'POST', '/admin/strategy', bad);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/valid strategies: round-robin, weighted-round-robin, least-in-flight, .*predictive, hybrid \(aliases: .*least_conn/);
    }
    // A seed's name that is not a strategy here is refused with what to use instead.
    const refused = await call(g.url, 'POST', '/admin/strategy', { strategy: 'priority' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^'priority' is not a strategy here: .*use `performance`.*; valid strategies: /);
    expect((await call(g.url, 'GET', '/admin/strategy')).body.strategy).toBe('round-robin');
  });

  test('queue: the waiting requests in service order, with model, priority and time waited', async () => {
    // Only generations hang: health checks go on as usual.
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ hang: { count: 1, paths: ['/api/generate'] } });
    const ac = new AbortController();
    const send = (priority?: string) =>
      fetch(`${g.url}/api/generate`, {
        method: 'POST',
        headers: priority ? { 'x-ollama-ring-priority': priority } : {},
        body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false }),
        signal: ac.signal,
      }).catch(() => undefined);
    const pending = [send(), send()];
    await until(
      () =>
        g.factory
          .getNodeRegistry()
          .getAllNodes()
          .every((n) => n.inFlight === 1),
      2_000,
      'both slots busy',
    );
    pending.push(send(), send('high'));
    await until(() => g.factory.getPoolView().queue.depth === 2, 2_000, 'two waiting');
    await new Promise((r) => setTimeout(r, 30));
    const q = await call(g.url, 'GET', '/admin/queue');
    expect(q.status).toBe(200);
    expect(q.body.depth).toBe(2);
    const waiting = q.body.waiting as Json[];
    expect(waiting[0]).toMatchObject({ model: 'llama3.2:latest', route: 'Generate' });
    expect(waiting[0].priority).toBeGreaterThan(waiting[1].priority as number);
    for (const w of waiting) {
      expect(w.waited_ms).toBeGreaterThanOrEqual(20);
      expect(typeof w.id).toBe('number');
    }
    const stats = await call(g.url, 'GET', '/api/stats');
    expect(stats.body.queue).toEqual({ depth: 2, by_model: { 'llama3.2:latest': 2 } });
    ac.abort();
    await Promise.all(pending);
    await until(() => g.factory.getPoolView().live === 0, 2_000, 'nothing live');
    for (const id of ['a', 'b']) g.sim.node(id).clearFaults();
    expect((await call(g.url, 'GET', '/admin/queue')).body).toEqual({ depth: 0, waiting: [] });
  });

  test('reload: a good file applies; a bad one is a 500 with the reason, and the old config stays', async () => {
    const yaml = (strategy: string, slots: number | string) =>
      [
        `strategy:`,
        `  type: ${strategy}`,
        `nodes:`,
        ...['a', 'b'].flatMap((id) => [`  - id: ${id}`, `    url: ${g.sim.node(id).url}`, `    maxConcurrentRequests: ${slots}`]),
        '',
      ].join('\n');
    writeFileSync(file, yaml('least-in-flight', 3));
    expect(await call(g.url, 'POST', '/admin/reload')).toEqual({
      status: 200,
      body: { status: 'reloaded', nodes: 2, strategy: 'least-in-flight', configured_nodes: ['a', 'b'], runtime_nodes: [] },
    });
    expect((await call(g.url, 'GET', '/admin/strategy')).body).toMatchObject({ strategy: 'least-in-flight', configured: 'least-in-flight' });

    for (const [bad, reason] of [
      [yaml('no-such-strategy', 3), /strategy\.type/],
      [yaml('round-robin', -2), /nodes\[0\]\.maxConcurrentRequests/],
      ['nodes: [\n  - id: a\n', /config/i],
    ] as const) {
      writeFileSync(file, bad);
      const r = await call(g.url, 'POST', '/admin/reload');
      expect(r.status).toBe(500);
      expect(r.body.error).toMatch(/^reload failed, the running config is unchanged: /);
      expect(r.body.error).toMatch(reason);
      expect(g.gateway.config().strategy.type).toBe('least-in-flight');
      expect(
        g.factory
          .getNodeRegistry()
          .getAllNodes()
          .map((n) => n.maxConcurrent),
      ).toEqual([3, 3]);
    }
    expect((await servedBy(g.url, 1)).length).toBe(1);
  });

  test('reload keeps a node added through the admin API, unless the file now defines its id (the file wins)', async () => {
    const yaml = (nodes: [string, string, number][]) =>
      ['strategy:', '  type: round-robin', 'nodes:', ...nodes.flatMap(([id, url, slots]) => [`  - id: ${id}`, `    url: ${url}`, `    maxConcurrentRequests: ${slots}`]), ''].join(
        '\n',
      );
    const fileNodes: [string, string, number][] = [
      ['a', g.sim.node('a').url, 1],
      ['b', g.sim.node('b').url, 1],
    ];
    writeFileSync(file, yaml(fileNodes));
    expect((await call(g.url, 'POST', '/admin/nodes', { id: 'extra', url: g.sim.node('b').url, maxConcurrentRequests: 2, tags: ['added'] })).status).toBe(201);
    try {
      const r = await call(g.url, 'POST', '/admin/reload');
      expect(r).toEqual({ status: 200, body: { status: 'reloaded', nodes: 3, strategy: 'round-robin', configured_nodes: ['a', 'b'], runtime_nodes: ['extra'] } });
      const listed = (await call(g.url, 'GET', '/admin/nodes')).body.nodes as Json[];
      expect(listed.find((n) => n.id === 'extra')).toMatchObject({ maxConcurrent: 2, tags: ['added'], canServe: true });
      // Still routed to after the reload.
      expect(new Set(await servedBy(g.url, 3))).toEqual(new Set(['a', 'b', 'extra']));

      // The file now defines 'extra': its spec wins, and the node is the file's from now on.
      writeFileSync(file, yaml([...fileNodes, ['extra', g.sim.node('a').url, 1]]));
      expect((await call(g.url, 'POST', '/admin/reload')).body).toMatchObject({ nodes: 3, configured_nodes: ['a', 'b', 'extra'], runtime_nodes: [] });
      expect(g.factory.getNodeRegistry().getNode('extra')).toMatchObject({ url: g.sim.node('a').url, maxConcurrent: 1, tags: [] });
      // So a file without it removes it.
      writeFileSync(file, yaml(fileNodes));
      expect((await call(g.url, 'POST', '/admin/reload')).body).toMatchObject({ nodes: 2, runtime_nodes: [] });
      expect(g.factory.getNodeRegistry().getNode('extra')).toBeUndefined();
    } finally {
      if (g.factory.getNodeRegistry().getNode('extra')) await g.factory.getNodeRegistry().remove('extra');
    }
  });
});

describe('admin API with a token', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], (c) => (c.auth.adminToken = 's3cret'), { routes: allRoutes });
  });
  afterAll(() => g.close());

  // Every row has three cells: with two, jest would pass its `done` callback as the third argument.
  const routes: [string, string, unknown][] = [
    ['GET', '/admin/nodes', undefined],
    ['POST', '/admin/nodes', { id: 'x', url: 'http://127.0.0.1:1' }],
    ['DELETE', '/admin/nodes/a', undefined],
    ['POST', '/admin/nodes/a/enable', undefined],
    ['POST', '/admin/nodes/a/disable', undefined],
    ['POST', '/admin/nodes/a/drain', undefined],
    ['GET', '/admin/strategy', undefined],
    ['POST', '/admin/strategy', { strategy: 'random' }],
    ['POST', '/admin/reload', undefined],
    ['GET', '/admin/queue', undefined],
    ['DELETE', '/api/delete', { model: 'llama3.2' }],
    ['POST', '/api/copy', { source: 'llama3.2', destination: 'x' }],
    ['POST', '/api/create', { model: 'x', from: 'llama3.2' }],
    ['POST', '/api/push', { model: 'llama3.2' }],
    ['POST', `/api/blobs/sha256:${'0'.repeat(64)}`, 'some blob bytes'],
  ];

  test.each(routes)("%s %s: 401 without the token, 403 with a wrong one, in Ollama's shape", async (method, path, body) => {
    const none = await call(g.url, method, path, body);
    expect(none).toEqual({ status: 401, body: { error: 'unauthorized: the admin API requires Authorization: Bearer <auth.adminToken>' } });
    const wrong = await call(g.url, method, path, body, { authorization: 'Bearer nope' });
    expect(wrong).toEqual({ status: 403, body: { error: 'forbidden: wrong admin token' } });
    const asKey = await call(g.url, method, path, body, { 'x-api-key': 'nope' });
    expect(asKey.status).toBe(403);
  });

  test('with the token: allowed', async () => {
    const auth = { authorization: 'Bearer s3cret' };
    expect((await call(g.url, 'GET', '/admin/nodes', undefined, auth)).status).toBe(200);
    expect((await call(g.url, 'GET', '/admin/queue', undefined, auth)).status).toBe(200);
    expect((await call(g.url, 'POST', '/api/copy', { source: 'llama3.2', destination: 'copied' }, auth)).status).toBe(200);
    // Nothing changed by the refused calls above.
    expect(
      g.factory
        .getNodeRegistry()
        .getAllNodes()
        .map((n) => [n.id, n.adminDisabled, n.draining]),
    ).toEqual([['a', false, false]]);
  });

  test('reload without a config file to reload from: 500 with the reason', async () => {
    const r = await call(g.url, 'POST', '/admin/reload', undefined, { authorization: 'Bearer s3cret' });
    expect(r).toEqual({ status: 500, body: { error: 'reload failed, the running config is unchanged: no config file to reload from' } });
  });
});

describe('admin API without a token, from a non-loopback address', () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  let g: GatewayHarness;
  let wide: Gateway;
  beforeAll(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], undefined, { routes: allRoutes });
    // A second front on every interface, over the same balancer.
    wide = new Gateway({ factory: g.factory, routes: allRoutes });
  });
  afterAll(async () => {
    await wide.close(1_000);
    await g.close();
  });

  (external ? test : test.skip)('403 from outside, 200 from loopback', async () => {
    const { port } = await wide.listen(0, '0.0.0.0');
    const outside = await call(`http://${external}:${port}`, 'GET', '/admin/nodes');
    expect(outside).toEqual({
      status: 403,
      body: { error: 'forbidden: with no auth.adminToken configured, the admin API answers loopback clients only' },
    });
    expect((await call(`http://${external}:${port}`, 'DELETE', '/api/delete', { model: 'llama3.2' })).status).toBe(403);
    expect((await call(`http://127.0.0.1:${port}`, 'GET', '/admin/nodes')).status).toBe(200);
    // The model routes that are not admin-only still answer from outside.
    expect((await call(`http://${external}:${port}`, 'GET', '/api/tags')).status).toBe(200);
  });
});
