/**
 * `metrics.listen` and `admin.listen`: `/metrics` and `/admin/*` on listeners of their own (another
 * interface or port than inference), and gone from the main one; real sockets, the emulator behind.
 */
import { createServer, type Server } from 'node:net';
import { inFlight, startHarness } from '../../balancer/test/e2e/harness';
import { allRoutes, Gateway } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

const NODES = [
  { id: 'a', models: ['llama3.2'] },
  { id: 'b', models: ['llama3.2'] },
];

const urlOf = (a: { address: string; port: number } | undefined): string => {
  if (!a) throw new Error('no such listener');
  return `http://${a.address}:${a.port}`;
};

async function status(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

async function refused(url: string): Promise<boolean> {
  return fetch(url).then(
    () => false,
    (e: { cause?: { code?: string } }) => e.cause?.code === 'ECONNREFUSED',
  );
}

describe('metrics.listen and admin.listen on two addresses', () => {
  let h: GatewayHarness;
  let metrics: string;
  let admin: string;
  beforeAll(async () => {
    h = await startGateway(
      NODES,
      (c) => {
        c.metrics.listen = '127.0.0.1:0';
        // Another loopback address (all of 127/8 is local on Linux): a listener of its own.
        c.admin.listen = '127.0.0.2:0';
      },
      { routes: allRoutes },
    );
    const sides = h.gateway.sideAddresses();
    metrics = urlOf(sides.metrics);
    admin = urlOf(sides.admin);
  });
  afterAll(() => h.close());

  test('three listeners: inference on the main one, /metrics and /admin/* each on its own', async () => {
    expect(new Set([new URL(h.url).port, new URL(metrics).port]).size).toBe(2);
    expect(new URL(admin).hostname).toBe('127.0.0.2');
    const chat = await fetch(`${h.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false }) });
    expect(chat.status).toBe(200);
    await chat.text();
    // The main listener: everything but the moved surfaces, which are unknown paths there.
    expect(await status(`${h.url}/api/tags`)).toBe(200);
    expect(await status(`${h.url}/health`)).toBe(200);
    expect(await status(`${h.url}/metrics`)).toBe(404);
    expect(await status(`${h.url}/admin/nodes`)).toBe(404);
    expect(await status(`${h.url}/admin/nodes/a/disable`, { method: 'POST' })).toBe(404);
    // The metrics listener: /metrics only, with the request just served in it.
    const text = await (await fetch(`${metrics}/metrics`)).text();
    expect(text).toMatch(/^ollama_lb_requests_total\{model="llama3\.2:latest",node="[ab]",outcome="success"\} 1$/m);
    expect(text).toMatch(/^ollama_lb_gateway_ready 1$/m);
    expect(await status(`${metrics}/api/tags`)).toBe(404);
    expect(await status(`${metrics}/admin/nodes`)).toBe(404);
    // The admin listener: /admin/* only, and its actions work.
    const nodes = (await (await fetch(`${admin}/admin/nodes`)).json()) as { nodes: { id: string; adminDisabled: boolean }[] };
    expect(nodes.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
    expect(await status(`${admin}/admin/nodes/b/disable`, { method: 'POST' })).toBe(200);
    expect(
      h.factory
        .getNodeRegistry()
        .getAllNodes()
        .find((n) => n.id === 'b')?.adminDisabled,
    ).toBe(true);
    expect(await status(`${admin}/admin/nodes/b/enable`, { method: 'POST' })).toBe(200);
    expect(await status(`${admin}/metrics`)).toBe(404);
    expect(await status(`${admin}/api/chat`, { method: 'POST', body: '{}' })).toBe(404);
    expect(Object.values(inFlight(h)).every((n) => n === 0)).toBe(true);
  });
});

describe('metrics.listen and admin.listen', () => {
  test('on the same address: one extra listener serves both, and close() stops every listener', async () => {
    const h = await startGateway(
      NODES,
      (c) => {
        c.metrics.listen = '127.0.0.1:0';
        c.admin.listen = '127.0.0.1:0';
      },
      { routes: allRoutes },
    );
    let side: string | undefined;
    try {
      const sides = h.gateway.sideAddresses();
      expect(sides.metrics).toEqual(sides.admin);
      side = urlOf(sides.metrics);
      expect(await status(`${side}/metrics`)).toBe(200);
      expect(await status(`${side}/admin/nodes`)).toBe(200);
      expect(await status(`${side}/api/tags`)).toBe(404);
    } finally {
      await h.close();
    }
    expect(await refused(`${h.url}/health`)).toBe(true);
    expect(await refused(`${side ?? ''}/metrics`)).toBe(true);
  });

  test('an address already in use fails listen(), and no listener stays open', async () => {
    const taken: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (taken.address() as { port: number }).port;
    const hh = await startHarness(NODES, (c) => (c.metrics.listen = `127.0.0.1:${port}`));
    const gw = new Gateway({ factory: hh.factory, routes: allRoutes });
    try {
      await expect(gw.listen(0, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // The main listener, bound before the metrics one failed, is closed again.
      expect(gw.address()).toBeNull();
    } finally {
      await gw.close(1_000);
      await hh.sim.close();
      await new Promise((r) => taken.close(r));
    }
  });
});
