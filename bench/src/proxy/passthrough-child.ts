/**
 * A reference, not a contender: the least a Node proxy can do — node:http in, an undici Pool out,
 * the body passed through untouched, no parsing, scheduling, metrics or limits. Measured beside
 * ollama-ring it splits the gateway's cost into what any Node proxy pays on this machine and what
 * ollama-ring adds on top.
 */
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';
import { exitWithParent, failStartup, serveLoopDelay } from './child';
import type { GatewayChildOptions, ToChild } from './protocol';

async function run(opts: GatewayChildOptions): Promise<void> {
  exitWithParent();
  serveLoopDelay();
  const pool = new Pool(opts.simUrl, { connections: opts.maxInFlight, pipelining: 1 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pool
        .request({ path: req.url ?? '/', method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) })
        .then((up) => {
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
          pipeline(up.body, res, () => undefined);
        })
        .catch((e: unknown) => {
          res.statusCode = 502;
          res.end(String(e));
        });
    });
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
