import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { HttpSink } from '../src/http/http-sink';

/** One server whose handler gives each response to `handle`, and one GET to it. */
async function exchange(handle: (sink: HttpSink) => void): Promise<{ res: IncomingMessage; server: Server }> {
  const server = createServer((_req, res) => handle(new HttpSink(res, 'ollama')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/', agent: false }, resolve).on('error', reject).end();
  });
  return { res, server };
}

const started = (headers: Record<string, string>) => ({ status: 200, headers, nodeId: 'n1', queueMs: 3, retries: 0 });

describe('HttpSink', () => {
  test('a stream whose first chunk is late still shows its headers at once', async () => {
    let sink: HttpSink | undefined;
    const { res, server } = await exchange((s) => {
      sink = s;
      s.onStart(started({ 'content-type': 'application/x-ndjson' }));
    });
    // The response began although no chunk was written: the client is not left waiting on headers.
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-ollama-ring-node']).toBe('n1');
    const body = new Promise<string>((r) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => r(text));
    });
    sink!.onChunk(Buffer.from('{"done":true}\n'));
    sink!.onEnd({ ttftMs: 1 } as never);
    expect(await body).toBe('{"done":true}\n');
    server.close();
  });

  test('a known-length stream cut by an error is closed, not given an extra error line', async () => {
    let sink: HttpSink | undefined;
    const { res, server } = await exchange((s) => {
      sink = s;
      s.onStart(started({ 'content-type': 'application/x-ndjson', 'content-length': '100' }));
      s.onChunk(Buffer.from('{"response":"a"}\n'));
    });
    const ended = new Promise<string>((r) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('error', () => r(`aborted after ${text}`));
      res.on('end', () => r(`ended after ${text}`));
    });
    const { UpstreamError } = await import('@ollama-ring/balancer');
    sink!.onError(new UpstreamError('n1', 0, 'node went away'), true);
    expect(await ended).toBe('aborted after {"response":"a"}\n');
    server.close();
  });

  // Completion frees the slot before it ends the response (onEnd). When the length is known, the
  // last byte is itself the end for the client, so it must not go out before onEnd either.
  test.each<[string, Record<string, string>, string[]]>([
    ['one chunk holding a whole known-length body', { 'content-type': 'application/json', 'content-length': '5' }, ['hello']],
    ['a known-length body over two chunks', { 'content-type': 'application/json', 'content-length': '10' }, ['hello', 'world']],
    ['an unknown-length (chunked) stream', { 'content-type': 'application/x-ndjson' }, ['hello\n']],
  ])('%s: the client sees the end only at onEnd', async (_label, headers, chunks) => {
    let sink!: HttpSink;
    let handled!: () => void;
    const written = new Promise<void>((r) => (handled = r));
    const server = createServer((_req, res) => {
      sink = new HttpSink(res, 'ollama');
      sink.onStart(started(headers));
      for (const c of chunks) sink.onChunk(Buffer.from(c));
      handled();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      let ended = false;
      const response = new Promise<{ text: string; res: IncomingMessage }>((resolve, reject) => {
        request({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            ended = true;
            resolve({ text, res });
          });
        })
          .on('error', reject)
          .end();
      });
      await written;
      await new Promise((r) => setTimeout(r, 50));
      expect(ended).toBe(false);
      sink.onEnd({ ttftMs: 1 } as never);
      const { text, res } = await response;
      expect(text).toBe(chunks.join(''));
      if (headers['content-length']) expect(res.headers['content-length']).toBe(headers['content-length']);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  // An answer that came whole but is judged a failure (an {"error": …} body on a 200) still reaches
  // the client as the node sent it: its bytes are all there, only the last ones were held back.
  test('a whole known-length body that ends in onError is still delivered whole', async () => {
    const body = '{"error":"runner failed"}';
    let sink!: HttpSink;
    const server = createServer((_req, res) => {
      sink = new HttpSink(res, 'ollama');
      sink.onStart(started({ 'content-type': 'application/json', 'content-length': String(body.length) }));
      sink.onChunk(Buffer.from(body));
      setTimeout(async () => {
        const { UpstreamError } = await import('@ollama-ring/balancer');
        sink.onError(new UpstreamError('n1', 500, 'runner failed'), true);
      }, 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const got = await new Promise<string>((resolve) => {
        request({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(`ended after ${text}`));
          res.on('error', () => resolve(`aborted after ${text}`));
        })
          .on('error', () => resolve('no response'))
          .end();
      });
      expect(got).toBe(`ended after ${body}`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a stream whose client stopped reading is closed when it fails, not held for its error line', async () => {
    let sink: HttpSink | undefined;
    let closed!: () => void;
    const serverSideClosed = new Promise<void>((r) => (closed = r));
    const server = createServer((_req, res) => {
      res.on('close', () => closed());
      sink = new HttpSink(res, 'ollama');
      sink.onStart(started({ 'content-type': 'application/x-ndjson' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    // A raw client that sends its request and then never reads a byte, but keeps its socket open.
    const client = connect(port, '127.0.0.1', () => client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    client.pause();
    try {
      while (sink === undefined) await new Promise((r) => setTimeout(r, 5));
      const line = Buffer.from(`${JSON.stringify({ response: 'x'.repeat(64 * 1024), done: false })}\n`);
      // Write until nothing more leaves: the client's window and both kernel buffers are full, and
      // a megabyte waits in the response itself.
      const res = (sink as unknown as { res: { writableLength: number } }).res;
      for (let i = 0; i < 500 && res.writableLength < 1 << 20; i++) {
        sink.onChunk(line);
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(res.writableLength).toBeGreaterThanOrEqual(1 << 20);
      const { UpstreamTimeoutError } = await import('@ollama-ring/balancer');
      sink.onError(new UpstreamTimeoutError('n1', 'total', 1000), true);
      // Without the close, the response (and its socket) would stay until the client went away.
      const timer = new Promise<string>((r) => setTimeout(() => r('still open after 3 s'), 3_000).unref());
      expect(await Promise.race([serverSideClosed.then(() => 'closed'), timer])).toBe('closed');
    } finally {
      client.destroy();
      server.close();
    }
  });
});
