import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Route } from '@ollama-ring/protocol';
import { UpstreamTimeoutError } from '../../src';
import { Dispatcher } from '../../src/stages/dispatch';

// A client that stops reading but keeps its connection open: the sink never drains. The total
// timeout must still end the exchange, so the node's slot is freed.
describe('dispatch with a stalled client', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const t = setInterval(() => res.write('{"response":"x","done":false}\n'), 5);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('the total timeout ends a dispatch stuck waiting for the sink to drain', async () => {
    const d = new Dispatcher({ connectTimeoutMs: 1000 });
    d.setNodes([{ id: 'a', url, connections: 1 }]);
    const t0 = Date.now();
    const outcome = await d.dispatch({
      requestId: 1,
      nodeId: 'a',
      route: Route.Generate,
      body: new TextEncoder().encode('{"model":"m"}'),
      timeouts: { firstByteMs: 1000, idleMs: 1000, totalMs: 200 },
      signal: new AbortController().signal,
      sink: { onStart: () => undefined, onChunk: () => false, drained: () => new Promise<void>(() => undefined) },
    });
    await d.close();
    expect(outcome.kind).toBe('failed');
    expect(outcome.kind === 'failed' && outcome.error).toBeInstanceOf(UpstreamTimeoutError);
    expect(outcome).toMatchObject({ started: true });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
