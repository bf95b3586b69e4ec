import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An authenticating reverse proxy in front of one node, as Ollama is often published: every
 * request must carry `Authorization: Basic <user:password>` and a path under `/ollama/`; the
 * prefix is stripped and the request passed on. What it refused, and every Authorization header
 * it saw, are kept for the test to read.
 */
export interface AuthProxy {
  /** The node URL to configure: credentials and the path prefix, `http://user:pass@127.0.0.1:port/ollama/`. */
  readonly url: string;
  /** Where requests go once let through (a sim node's URL); set before the first request. */
  target: string;
  /** Requests refused (401 for credentials, 404 outside the prefix), as `METHOD /path`. */
  readonly refused: string[];
  /** Every Authorization header value seen, accepted or not. */
  readonly authorizations: Set<string>;
  close(): Promise<void>;
}

const PREFIX = '/ollama';

/** Starts a proxy that lets through `user`:`password` (`password` unencoded; the URL carries it percent-encoded). */
export async function startAuthProxy(user: string, password: string): Promise<AuthProxy> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const refused: string[] = [];
  const authorizations = new Set<string>();
  const proxy = {
    url: '',
    target: '',
    refused,
    authorizations,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const deny = (req: IncomingMessage, res: ServerResponse, status: number, text: string): void => {
    refused.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain', ...(status === 401 && { 'www-authenticate': 'Basic realm="ollama"' }) });
    res.end(text);
  };
  const server = createServer((req, res) => {
    const auth = req.headers.authorization;
    if (auth !== undefined) authorizations.add(auth);
    if (auth !== expected) return deny(req, res, 401, 'unauthorized');
    const path = req.url ?? '/';
    if (!path.startsWith(`${PREFIX}/`)) return deny(req, res, 404, 'not under /ollama/');
    const to = new URL(path.slice(PREFIX.length), proxy.target);
    const headers = { ...req.headers, host: to.host };
    delete headers.authorization;
    const up = request(to, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  proxy.url = `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}${PREFIX}/`;
  return proxy;
}
