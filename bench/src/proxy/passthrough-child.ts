/**
 * A reference, not a contender: the least a Node proxy can do — node:http in, an undici Pool out,
 * the body passed through untouched, no parsing, scheduling, metrics or limits. Measured beside
 * ollama-ring it splits the gateway's cost into what any Node proxy pays on this machine and what
 * ollama-ring adds on top.
 *
 * It is lean on purpose, as a careful hand-written proxy would be: undici's dispatch with handler
 * callbacks (no response stream, `stream.pipeline` or AbortController per request, which cost a
 * third of an earlier version's CPU), each upstream chunk written to the client as it comes, the
 * upstream read paused while the client's socket is full. A reference that wastes CPU would make
 * every gateway look cheap beside it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { exitWithParent, failStartup, serveLoopDelay } from './child';
import type { GatewayChildOptions, ToChild } from './protocol';

const REQUEST_HEADERS = { 'content-type': 'application/json' };

/** One proxied response: undici's callbacks straight onto the client's response. */
class Relay implements Dispatcher.DispatchHandler {
  constructor(private readonly res: ServerResponse) {}

  // Its presence tells undici this handler speaks the controller API (else it wants onConnect).
  onRequestStart(): void {}

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    const type = headers['content-type'];
    const length = headers['content-length'];
    const out: Record<string, string> = { 'content-type': typeof type === 'string' ? type : 'application/json' };
    if (typeof length === 'string') out['content-length'] = length;
    this.res.writeHead(status, out);
    this.res.once('close', () => {
      if (!this.res.writableFinished) controller.abort(new Error('client left'));
    });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk) && !controller.paused) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.statusCode = 502;
      this.res.end(String(err));
    }
  }
}

async function run(opts: GatewayChildOptions): Promise<void> {
  exitWithParent();
  serveLoopDelay();
  const pool = new Pool(opts.simUrl, { connections: opts.maxInFlight, pipelining: 1 });
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    pool.dispatch({ path: req.url ?? '/', method: 'POST', headers: REQUEST_HEADERS, body }, new Relay(res));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  process.on('message', (m: ToChild) => {
    if (m.type !== 'stop') return;
    server.closeAllConnections();
    server.close();
    void pool.close().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
}

run(JSON.parse(process.argv[2] ?? '{}') as GatewayChildOptions).catch(failStartup);
