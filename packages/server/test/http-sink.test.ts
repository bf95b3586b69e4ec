import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
});
