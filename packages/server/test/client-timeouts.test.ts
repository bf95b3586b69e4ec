import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { allRoutes, Gateway } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/**
 * The gateway's own timeouts for its clients, from the `server.*` config keys. Margins are wide:
 * every limit is checked only to hold within seconds, on a loaded two-core machine.
 */

interface Exchange {
  /** Everything the server sent, as text. */
  reply: string;
  /** The server closed the connection (before `giveUpMs`). */
  closed: boolean;
  ms: number;
}

/**
 * Opens a connection, writes `head`, then `drip()`'s chunks every `everyMs` until it returns
 * undefined; resolves once the server closes the connection, or after `giveUpMs`.
 */
function converse(port: number, head: string, drip: () => string | undefined, everyMs: number, giveUpMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let reply = '';
    const s: Socket = connect(port, '127.0.0.1', () => s.write(head));
    const timer = setInterval(() => {
      const next = drip();
      if (next === undefined) clearInterval(timer);
      else if (s.writable) s.write(next);
    }, everyMs);
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(stop);
      s.destroy();
      resolve({ reply, closed, ms: Date.now() - t0 });
    };
    const stop = setTimeout(() => finish(false), giveUpMs);
    s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => finish(true));
  });
}

const bodyOf = (reply: string): unknown => JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));

describe('server.* timeouts, from the config', () => {
  let g: GatewayHarness;
  let gw: Gateway;
  let port: number;
  const logLines: { msg?: string; path?: string; status?: number }[] = [];
  beforeAll(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], (c) => {
      Object.assign(c.server, { headersTimeoutMs: 400, requestTimeoutMs: 600, blobUploadTimeoutMs: 20_000, keepAliveTimeoutMs: 400 });
      // The inference total is short too: a blob upload must not be held to it.
      c.timeouts.requestTimeoutMs = 1_000;
    });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]) });
    gw = new Gateway({ factory: g.factory, routes: allRoutes, logger });
    port = (await gw.listen(0, '127.0.0.1')).port;
  });
  afterAll(async () => {
    await gw.close(1_000);
    await g.close();
  });

  test('a blob upload slower than server.requestTimeoutMs, within server.blobUploadTimeoutMs, is stored', async () => {
    // 40 bytes, one every 100 ms: about 4 s, several times the ordinary request timeout.
    const blob = Buffer.from('0123456789'.repeat(4));
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    let sent = 0;
    const head = `POST /api/blobs/${digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ${blob.length}\r\nConnection: close\r\n\r\n`;
    const r = await converse(port, head, () => (sent < blob.length ? blob.toString('latin1', sent, ++sent) : undefined), 100, 30_000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 201 /);
    expect(bodyOf(r.reply)).toEqual({ status: 'success', ollama_ring: { nodes: { a: 'created' } } });
    expect(r.ms).toBeGreaterThan(3_000);
  });

  test.each([
    ['/api/chat', (m: string) => ({ error: m })],
    ['/v1/chat/completions', (m: string) => ({ error: { message: m, type: expect.any(String) as unknown, param: null, code: null } })],
  ])('a body on %s trickled past server.requestTimeoutMs gets 408 in that API’s shape, and the connection is closed', async (path, shape) => {
    const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":"llama3.2","prompt":"`;
    const r = await converse(port, head, () => 'x', 100, 10_000);
    expect(r.closed).toBe(true);
    expect(r.reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(bodyOf(r.reply)).toEqual(shape('request timeout: the request did not arrive in full within 600 ms (server.requestTimeoutMs)'));
    expect(r.ms).toBeLessThan(8_000);
    expect(g.factory.getPoolView().live).toBe(0);
    expect(logLines.filter((l) => l.msg === 'request' && l.path === path).map((l) => l.status)).toEqual([408]);
  });

  test('headers trickled past server.headersTimeoutMs get a 408 and the connection is closed', async () => {
    const r = await converse(port, 'GET /health HTTP/1.1\r\nHost: x\r\n', () => 'X-Slow: 1\r\n', 100, 10_000);
    expect(r.closed).toBe(true);
    expect(r.reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.ms).toBeLessThan(8_000);
  });

  test('an idle keep-alive connection is closed after server.keepAliveTimeoutMs', async () => {
    const r = await converse(port, 'GET /ready HTTP/1.1\r\nHost: x\r\n\r\n', () => undefined, 100, 4_000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 200 /);
    // Node's default would keep it 5 s; the configured 400 ms closes it well within 4 s.
    expect(r.closed).toBe(true);
  });

  test('requests that arrive in time are not affected', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 4 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ done: true });
  });
});

describe('server.blobUploadTimeoutMs', () => {
  let g: GatewayHarness;
  let port: number;
  beforeAll(async () => {
    g = await startGateway(
      [{ id: 'a', models: ['llama3.2'], numParallel: 1 }],
      (c) => Object.assign(c.server, { headersTimeoutMs: 400, requestTimeoutMs: 600, blobUploadTimeoutMs: 1_000 }),
      {
        routes: allRoutes,
      },
    );
    port = Number(new URL(g.url).port);
  });
  afterAll(() => g.close());

  test('a blob upload past it gets 408 (not the node’s 504), and its connection is closed', async () => {
    const head = `POST /api/blobs/sha256:${'0'.repeat(64)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`;
    const r = await converse(port, head, () => 'x', 100, 10_000);
    expect(r.closed).toBe(true);
    expect(r.reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(r.reply)).toEqual({ error: 'request timeout: the request did not arrive in full within 1000 ms (server.blobUploadTimeoutMs)' });
  });

  test('a request answered early and then trickled is closed at its deadline, with nothing more sent', async () => {
    // No route: a 404 at once, while the body keeps trickling in.
    const head = 'POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n';
    const r = await converse(port, head, () => 'x', 100, 10_000);
    expect(r.closed).toBe(true);
    expect(r.reply).toMatch(/^HTTP\/1\.1 404 /);
    // One answer only: neither the gateway nor Node's own backstop writes a second one.
    expect(r.reply.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });
});
