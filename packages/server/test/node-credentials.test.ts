import { createHash } from 'node:crypto';
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

  /** POSTs JSON to the gateway; answers the status and the body's text. */
  const post = async (path: string, body: unknown, headers: Record<string, string> = client, method = 'POST') => {
    const res = await fetch(`${g.url}${path}`, { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };
  const lastLine = (text: string) => JSON.parse(text.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;

  test('inference reaches the node with its credentials: chat, generate, embed, streamed and not, native and OpenAI', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    for (const stream of [false, true]) {
      const chat = await post('/api/chat', { model: 'llama3.2', messages, stream });
      expect(chat).toMatchObject({ status: 200 });
      expect(lastLine(chat.text)).toMatchObject({ done: true });
      const gen = await post('/api/generate', { model: 'llama3.2', prompt: 'hi', stream });
      expect(gen).toMatchObject({ status: 200 });
      expect(lastLine(gen.text)).toMatchObject({ done: true });
      const openai = await post('/v1/chat/completions', { model: 'llama3.2', messages, stream });
      expect(openai.status).toBe(200);
      expect(openai.text).toContain(stream ? 'data: [DONE]' : '"chat.completion"');
    }
    const embed = await post('/api/embed', { model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(embed.status).toBe(200);
    expect((JSON.parse(embed.text) as { embeddings: number[][] }).embeddings).toHaveLength(2);
    expect(proxy.refused).toEqual([]);
  });

  test('pool-wide routes reach the node with its credentials: version, tags, ps, show, pull, copy, delete, push, blobs', async () => {
    const version = await fetch(`${g.url}/api/version`, { headers: client });
    expect(version.status).toBe(200);
    const tags = (await (await fetch(`${g.url}/api/tags`, { headers: client })).json()) as { models: { name: string }[] };
    expect(tags.models.map((m) => m.name)).toEqual(expect.arrayContaining(['llama3.2:latest', 'nomic-embed-text:latest']));
    const v1 = (await (await fetch(`${g.url}/v1/models`, { headers: client })).json()) as { data: { id: string }[] };
    expect(v1.data.map((m) => m.id)).toEqual(expect.arrayContaining(['llama3.2:latest']));
    await post('/api/generate', { model: 'llama3.2', prompt: 'hi', stream: false });
    const ps = (await (await fetch(`${g.url}/api/ps`, { headers: client })).json()) as { models: { name: string }[] };
    expect(ps.models.map((m) => m.name)).toContain('llama3.2:latest');
    const show = await post('/api/show', { model: 'llama3.2' });
    expect(show.status).toBe(200);
    expect(JSON.parse(show.text)).toHaveProperty('details');

    const pull = await post('/api/pull', { model: 'qwen3' });
    expect(pull.status).toBe(200);
    expect(lastLine(pull.text)).toMatchObject({ status: 'success' });
    expect(await post('/api/copy', { source: 'qwen3', destination: 'qwen3-copy' }, admin)).toMatchObject({ status: 200 });
    expect(await post('/api/delete', { model: 'qwen3-copy' }, admin, 'DELETE')).toMatchObject({ status: 200 });
    const push = await post('/api/push', { model: 'qwen3', stream: false }, admin);
    expect(push).toMatchObject({ status: 200 });
    expect(await post('/api/delete', { model: 'qwen3' }, admin, 'DELETE')).toMatchObject({ status: 200 });

    const blob = Buffer.from('a layer');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    expect((await fetch(`${g.url}/api/blobs/${digest}`, { method: 'HEAD', headers: admin })).status).toBe(404);
    expect((await fetch(`${g.url}/api/blobs/${digest}`, { method: 'POST', headers: admin, body: blob })).status).toBe(201);
    expect((await fetch(`${g.url}/api/blobs/${digest}`, { method: 'HEAD', headers: admin })).status).toBe(200);
    expect(proxy.refused).toEqual([]);
  });

  test("the client's own Authorization for the gateway never reaches the node; the node's own does", () => {
    expect([...proxy.authorizations]).toEqual([`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`]);
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
    // A wrong password: the node fails its health checks, and says why.
    const wrong = proxy.url.replace(encodeURIComponent(PASSWORD), 'wrong');
    expect((await post('/admin/nodes', { id: 'wrong', url: wrong, enabled: false }, admin)).status).toBe(201);
    await eventually(() => /HTTP 401/.test(g.factory.getNodeRegistry().getNode('wrong')?.lastError ?? ''), 10_000, 'the wrong password to be reported');
    expect((await fetch(`${g.url}/admin/nodes/wrong`, { method: 'DELETE', headers: admin })).ok).toBe(true);
  });

  test('nothing logged holds the password', () => {
    expect(logLines.some((l) => l.includes('"node added"'))).toBe(true);
    expectNoPassword(logLines.join('\n'));
  });
});
