import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { allRoutes } from '../src';
import { BodyError, readBody } from '../src/http/body';
import { startGateway } from './gateway-harness';

/**
 * A server whose handler hands each request to `read`; the raw client writes `head` + `parts`
 * (each after a short pause) and then either leaves (`leave`) or waits for the answer.
 */
async function serve(read: (req: IncomingMessage) => Promise<unknown>): Promise<{ server: Server; port: number; settled: Promise<unknown> }> {
  let settle!: (v: unknown) => void;
  const settled = new Promise<unknown>((r) => (settle = r));
  const server = createServer((req, res) => {
    read(req).then(
      (v) => settle({ ok: v }),
      (e: unknown) => settle({ error: e }),
    );
    res.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, settled };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

describe('readBody', () => {
  test.each([
    ['mid-body, while readBody waits', false],
    ['before readBody is called', true],
  ])('a client that leaves %s: it rejects with a 400 BodyError', async (_label, late) => {
    const { server, port, settled } = await serve(async (req) => {
      if (late) await new Promise((r) => req.once('close', r));
      return readBody(req, 1024);
    });
    try {
      const sock = connect(port, '127.0.0.1');
      sock.on('error', () => undefined);
      await new Promise((r) => sock.once('connect', r));
      sock.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"model":');
      await new Promise((r) => setTimeout(r, 30));
      sock.destroy();
      const out = (await within(settled, 1_000)) as { error?: unknown } | 'pending';
      expect(out).not.toBe('pending');
      expect((out as { error?: unknown }).error).toBeInstanceOf(BodyError);
      expect((out as { error: BodyError }).error.status).toBe(400);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

// Through the gateway: a client that leaves while uploading is the client's doing, logged as a
// rejected request, not a handler failure (error log and a 500) of the gateway's.
test.each(['/api/generate', '/api/show'])('gateway %s: a client that leaves mid-body is a rejected request, not a handler failure', async (path) => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const g = await startGateway([{ id: 'a', numParallel: 1, models: ['llama3.2'] }], undefined, { routes: allRoutes, logger });
  try {
    const { port } = new URL(g.url);
    const sock = connect(Number(port), '127.0.0.1');
    sock.on('error', () => undefined);
    await new Promise((r) => sock.once('connect', r));
    sock.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"model":`);
    await new Promise((r) => setTimeout(r, 30));
    sock.destroy();
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline && !lines.some((l) => l.msg === 'handler failed' || l.msg === 'request')) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([]);
  } finally {
    await g.close();
  }
});

// A chunked upload has no Content-Length to refuse up front: it is cut once it passes the cap,
// answered 413, and the connection closed, while the client is still sending.
test('gateway: a chunked body that grows past the cap gets a 413 and the connection is closed', async () => {
  const g = await startGateway([{ id: 'a', numParallel: 1, models: ['llama3.2'] }], (c) => {
    c.validation.maxBodyBytes = 4096;
  });
  try {
    const { port } = new URL(g.url);
    const sock = connect(Number(port), '127.0.0.1');
    sock.on('error', () => undefined);
    let answer = '';
    sock.on('data', (b: Buffer) => (answer += b.toString()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await new Promise((r) => sock.once('connect', r));
    sock.write('POST /api/generate HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
    const piece = 'x'.repeat(1024);
    for (let i = 0; i < 20 && !sock.destroyed && answer === ''; i++) {
      sock.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000))]);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/exceeds the limit of 4096 bytes/);
    expect(sock.destroyed || sock.readableEnded).toBe(true);
    sock.destroy();
  } finally {
    await g.close();
  }
});
