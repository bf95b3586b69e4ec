import pino from 'pino';
import { allRoutes } from '../src';
import { logNodeTransitions } from '../src/commands/node-log';
import { startAuthProxy, type AuthProxy } from './auth-proxy';
import { eventually } from '../../balancer/test/e2e/harness';
import { startGateway, type GatewayHarness } from './gateway-harness';

/** The password, in every form it could leak in: as written, percent-encoded, and inside the basic-auth header. */
const USER = 'ring';
const PASSWORD = 'pw@s3cr3t';
const LEAKS = [PASSWORD, encodeURIComponent(PASSWORD), Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];
const CLIENT_KEY = 'client-key-1';
const ADMIN_TOKEN = 'admin-token-1';

const expectNoPassword = (text: string): void => {
  for (const leak of LEAKS) expect(text).not.toContain(leak);
};

describe.each(['inline', 'workers'] as const)('a node behind an authenticating proxy, its credentials in its URL (dispatch %s)', (placement) => {
  let proxy: AuthProxy;
  let g: GatewayHarness;
  const logLines: string[] = [];
  let stopNodeLog: () => void;
  const client = { authorization: `Bearer ${CLIENT_KEY}` };
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  /** The URL as the gateway shows it: the password masked, the rest as configured. */
  let shown: string;

  beforeAll(async () => {
    proxy = await startAuthProxy(USER, PASSWORD);
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    g = await startGateway(
      [{ id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 }],
      (c) => {
        proxy.target = c.nodes[0].url;
        c.nodes[0].url = proxy.url;
        c.auth = { apiKeys: [{ key: CLIENT_KEY }], adminToken: ADMIN_TOKEN };
        c.disruptor.dispatchPlacement = placement;
      },
      { routes: allRoutes, logger },
    );
    stopNodeLog = logNodeTransitions(g.factory.getNodeRegistry(), logger);
    shown = `http://${USER}:***@${new URL(proxy.url).host}/ollama/`;
  });
  afterAll(async () => {
    stopNodeLog();
    await g.close();
    await proxy.close();
  });

  test('/health, /api/stats and /admin/nodes show the URL with its password masked', async () => {
    const health = await fetch(`${g.url}/health`);
    const healthText = await health.text();
    expectNoPassword(healthText);
    expect((JSON.parse(healthText) as { nodes: { url: string }[] }).nodes[0].url).toBe(shown);

    const stats = await fetch(`${g.url}/api/stats`, { headers: client });
    const statsText = await stats.text();
    expect(stats.status).toBe(200);
    expectNoPassword(statsText);
    expect((JSON.parse(statsText) as { instances: Record<string, { url: string }> }).instances.a.url).toBe(shown);

    const nodes = await fetch(`${g.url}/admin/nodes`, { headers: admin });
    const nodesText = await nodes.text();
    expect(nodes.status).toBe(200);
    expectNoPassword(nodesText);
    expect((JSON.parse(nodesText) as { nodes: { url: string }[] }).nodes[0].url).toBe(shown);
  });

  test('a node added through the admin API with credentials is answered and logged masked', async () => {
    const res = await fetch(`${g.url}/admin/nodes`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'extra', url: proxy.url, enabled: false }),
    });
    const text = await res.text();
    expect(res.status).toBe(201);
    expectNoPassword(text);
    // The config's loader drops the trailing slash of a URL.
    expect((JSON.parse(text) as { url: string }).url).toBe(shown.replace(/\/$/, ''));
    const bad = await fetch(`${g.url}/admin/nodes`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'bad', url: `ftp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1/` }),
    });
    expect(bad.status).toBe(400);
    expectNoPassword(await bad.text());
    // Health checks of the added node use its real credentials, not the masked URL it is shown with.
    await eventually(() => g.factory.getNodeRegistry().getNode('extra')?.health === 'HEALTHY', 10_000, 'the added node to pass a health check');
    const gone = await fetch(`${g.url}/admin/nodes/extra`, { method: 'DELETE', headers: admin });
    expect(gone.ok).toBe(true);
  });

  test('nothing logged holds the password', () => {
    expect(logLines.some((l) => l.includes('"node added"'))).toBe(true);
    expectNoPassword(logLines.join('\n'));
  });
});
