/**
 * A tiny stand-in for an Ollama node, answering the read-only endpoints with the shapes of
 * ollama-api.md §1 and §6, with per-path faults. It records every request, so tests can prove that
 * probes never touch anything else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'ok' | '500' | 'malformed' | 'hang' | 'wrong-text' | 'huge' | { delayMs: number };

export const TAGS_BODY = {
  models: [
    {
      name: 'llama3.2:latest',
      model: 'llama3.2:latest',
      modified_at: '2025-05-04T17:37:44.706015396-07:00',
      size: 2019393189,
      digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
      details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
    },
    {
      name: 'nomic-embed-text:latest',
      model: 'nomic-embed-text:latest',
      modified_at: '2025-04-01T10:00:00.5Z',
      size: 274302450,
      digest: '0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f',
      details: { parent_model: '', format: 'gguf', family: 'nomic-bert', families: ['nomic-bert'], parameter_size: '137M', quantization_level: 'F16', embedding_length: 768 },
      capabilities: ['embedding'],
    },
  ],
};

export const PS_EXPIRES_AT = '2024-06-04T14:38:31.83753-07:00';
export const PS_BODY = {
  models: [
    {
      name: 'mistral:latest',
      model: 'mistral:latest',
      size: 5137025024,
      digest: '2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8',
      details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '7.2B', quantization_level: 'Q4_0' },
      expires_at: '2318-09-21T02:25:42.311474919+02:00', // keep_alive -1
      size_vram: 5137025024,
      context_length: 4096,
    },
    {
      name: 'llama3.2:latest',
      model: 'llama3.2:latest',
      size: 3825819519,
      digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
      details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
      expires_at: PS_EXPIRES_AT,
      size_vram: 0,
      context_length: 4096,
    },
  ],
};

const READ_ONLY = new Set(['/', '/api/version', '/api/tags', '/api/ps']);

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export class FakeOllama {
  readonly requests: Recorded[] = [];
  readonly faults = new Map<string, Fault>();
  /** Highest number of requests to one path being handled at once. */
  readonly maxConcurrent = new Map<string, number>();
  tags: unknown = TAGS_BODY;
  ps: unknown = PS_BODY;
  private readonly active = new Map<string, number>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeOllama> {
    let self: FakeOllama | undefined;
    const server = createServer((req, res) => self?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FakeOllama(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  /** Resolves once `path` has been requested `n` times in all. */
  async waitFor(path: string, n = 1, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.count(path) < n) {
      if (Date.now() > until) throw new Error(`${path} requested ${this.count(path)} times, wanted ${n}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
    const n = (this.active.get(path) ?? 0) + 1;
    this.active.set(path, n);
    this.maxConcurrent.set(path, Math.max(n, this.maxConcurrent.get(path) ?? 0));
    res.on('close', () => this.active.set(path, (this.active.get(path) ?? 1) - 1));

    if (!READ_ONLY.has(path)) return this.send(res, 404, 'text/plain', '404 page not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', '405 method not allowed');
    const fault = this.faults.get(path) ?? 'ok';
    if (fault === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (typeof fault === 'object') {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.answer(path, 'ok', res);
      }, fault.delayMs);
      this.timers.add(t);
      return;
    }
    this.answer(path, fault, res);
  }

  private answer(path: string, fault: Fault, res: ServerResponse): void {
    const json = 'application/json; charset=utf-8';
    if (fault === '500') return this.send(res, 500, json, JSON.stringify({ error: 'something went wrong' }));
    if (fault === 'malformed') return this.send(res, 200, json, '{"models":[{"name":');
    if (fault === 'wrong-text') return this.send(res, 200, 'text/html', '<html>nginx</html>');
    if (fault === 'huge') return this.send(res, 200, json, `{"models":[],"pad":"${'x'.repeat(64 * 1024)}"}`);
    switch (path) {
      case '/':
        return this.send(res, 200, 'text/plain; charset=utf-8', 'Ollama is running');
      case '/api/version':
        return this.send(res, 200, json, JSON.stringify({ version: '0.12.6' }));
      case '/api/tags':
        return this.send(res, 200, json, JSON.stringify(this.tags));
      default:
        return this.send(res, 200, json, JSON.stringify(this.ps));
    }
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
