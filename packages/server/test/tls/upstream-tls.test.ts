/**
 * HTTPS nodes: an emulated node serving HTTPS is reached with the CA of `upstreamTls` (inference,
 * health probes and the gateway's management calls alike), and a node that wants a client
 * certificate gets the configured one; without the CA the node is refused with an error that says
 * what to set.
 */
import { Ollama } from 'ollama';
import { request } from 'undici';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { Route } from '@ollama-ring/protocol';
import { Dispatcher } from '../../../balancer/src/stages/dispatch';
import { certDir, makeCa, type TestCa } from './certs';

describe('upstreamTls: HTTPS nodes', () => {
  const tmp = certDir();
  let ca: TestCa;
  beforeAll(() => {
    ca = makeCa(tmp.dir, 'nodes-ca');
  });
  afterAll(() => tmp.cleanup());

  describe('with the CA', () => {
    let g: GatewayHarness;
    beforeAll(async () => {
      const a = ca.issue('node-a');
      const b = ca.issue('node-b');
      g = await startGateway(
        [
          { id: 'a', models: ['llama3.2'], numParallel: 2, tls: a },
          // b asks every client for a certificate its CA signed (mTLS).
          { id: 'b', models: ['llama3.2'], numParallel: 2, tls: { ...b, ca: ca.cert } },
        ],
        (c) => {
          c.upstreamTls = { ca: ca.cert, ...ca.issue('gateway-client') };
        },
        { routes: allRoutes },
      );
    });
    afterAll(() => g.close());

    test('inference reaches both https nodes, probes find them healthy, and /api/tags merges theirs', async () => {
      expect(g.sim.nodes.map((n) => n.url)).toEqual([expect.stringMatching(/^https:/), expect.stringMatching(/^https:/)]);
      const nodes = g.factory.getNodeRegistry().getAllNodes();
      expect(nodes.map((n) => [n.id, n.health])).toEqual([
        ['a', 'HEALTHY'],
        ['b', 'HEALTHY'],
      ]);
      const ollama = new Ollama({ host: g.url });
      const answers = await Promise.all(Array.from({ length: 6 }, () => ollama.generate({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 2 } })));
      expect(answers.every((r) => r.done)).toBe(true);
      expect(g.sim.node('a').state().completed).toBeGreaterThan(0);
      expect(g.sim.node('b').state().completed).toBeGreaterThan(0);
      const tags = (await (await request(`${g.url}/api/tags`)).body.json()) as { models: { name: string }[] };
      expect(tags.models.map((m) => m.name)).toContain('llama3.2:latest');
    });
  });

  test('dispatch threads (disruptor.dispatchPlacement: workers) reach an https node with the CA too', async () => {
    const g = await startGateway([{ id: 'w', models: ['llama3.2'], numParallel: 2, tls: ca.issue('node-w') }], (c) => {
      c.upstreamTls = { ca: ca.cert };
      c.disruptor.dispatchPlacement = 'workers';
      c.disruptor.dispatchThreads = 1;
    });
    try {
      const r = await new Ollama({ host: g.url }).generate({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 2 } });
      expect(r.done).toBe(true);
      expect(g.sim.node('w').state().completed).toBe(1);
    } finally {
      await g.close();
    }
  });

  describe('without the CA', () => {
    let g: GatewayHarness;
    beforeAll(async () => {
      g = await startGateway(
        [{ id: 'a', models: ['llama3.2'], numParallel: 1, tls: ca.issue('node-c') }],
        (c) => {
          c.retry.maxRetries = 0;
        },
        { routes: allRoutes },
      );
    });
    afterAll(() => g.close());

    test('the node is refused: down after its probe, with an error naming the setting', async () => {
      const node = g.factory.getNodeRegistry().getNode('a')!;
      expect(node.health).not.toBe('HEALTHY');
      expect(node.lastError).toMatch(/certificate/);
      expect(node.lastError).toMatch(/upstreamTls\.ca/);
      // The gateway's own call to the node (a management route) fails the same way, and says so.
      const res = await request(`${g.url}/api/show`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2' }), headers: { 'content-type': 'application/json' } });
      const body = await res.body.text();
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(body).not.toContain('modelfile');
    });
  });

  describe('dispatch to an https node', () => {
    const job = (nodeId: string) => ({
      requestId: 1,
      nodeId,
      route: Route.Generate,
      body: new TextEncoder().encode('{"model":"llama3.2","prompt":"hi","options":{"num_predict":1}}'),
      timeouts: { firstByteMs: 5000, idleMs: 5000, totalMs: 10_000 },
      signal: new AbortController().signal,
      sink: { onStart: () => undefined, onChunk: () => true },
    });

    test('without the CA fails with what to set; with it, answers; a TLS file gone when the pool is made fails with its name', async () => {
      const g = await startGateway([{ id: 'd', models: ['llama3.2'], numParallel: 1, tls: ca.issue('node-d') }], (c) => (c.upstreamTls = { ca: ca.cert }));
      const d = new Dispatcher({ connectTimeoutMs: 2000 });
      try {
        const url = g.sim.nodes[0].url;
        d.setNodes([
          { id: 'plain', url, connections: 1 },
          { id: 'trusting', url, connections: 1, tls: { ca: ca.cert } },
          { id: 'gone', url, connections: 1, tls: { ca: `${tmp.dir}/gone.pem` } },
        ]);
        const refused = await d.dispatch(job('plain'));
        expect(refused).toMatchObject({ kind: 'failed', started: false });
        expect(refused.kind === 'failed' && refused.error.message).toMatch(/certificate.*set upstreamTls\.ca, or the node's tls\.ca/);
        expect(await d.dispatch(job('trusting'))).toMatchObject({ kind: 'ok', status: 200 });
        const gone = await d.dispatch(job('gone'));
        expect(gone.kind === 'failed' && gone.error.message).toMatch(/node gone: cannot read the TLS ca file .*gone\.pem \(ENOENT\)/);
      } finally {
        await d.close();
        await g.close();
      }
    });
  });
});
