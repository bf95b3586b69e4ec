import { startSimPool, type SimModelConfig, type SimNodeConfig, type SimPool, type SimPoolConfig } from '@ollama-ring/ollama-sim';

/** A completion model that loads instantly and answers with 8–12 tokens. */
export const TINY: SimModelConfig = { name: 'tiny', loadMs: 0, responseTokens: { min: 8, max: 12 }, capabilities: ['completion', 'tools'] };
export const THINKER: SimModelConfig = { name: 'thinker:8b', family: 'qwen3', loadMs: 0, capabilities: ['completion', 'tools', 'thinking'] };
export const EMBEDDER: SimModelConfig = { name: 'embedder', family: 'nomic-bert', loadMs: 0, capabilities: ['embedding'], embeddingLength: 64 };
export const PLAIN: SimModelConfig = { name: 'plain:7b', loadMs: 0, capabilities: ['completion'] };

/** One node with fast defaults; override anything. */
export function node(overrides: Partial<SimNodeConfig> = {}): SimNodeConfig {
  return {
    id: 'n1',
    numParallel: 4,
    tokensPerSec: 2000,
    promptTokensPerSec: 100_000,
    models: [TINY, THINKER, EMBEDDER, PLAIN],
    ...overrides,
  };
}

/** Starts a pool, runs `fn`, and always closes the pool. */
export async function withPool<T>(config: SimPoolConfig, fn: (pool: SimPool) => Promise<T>): Promise<T> {
  const pool = await startSimPool(config);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/** A pool of one node, `url` is its base URL. */
export async function withNode<T>(overrides: Partial<SimNodeConfig>, fn: (url: string, pool: SimPool) => Promise<T>, pool: Omit<SimPoolConfig, 'nodes'> = {}): Promise<T> {
  return withPool({ ...pool, nodes: [node(overrides)] }, (p) => fn(p.nodes[0].url, p));
}

export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
}

/** Reads an NDJSON body into parsed lines. */
export async function ndjson(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Reads an SSE body into its `data:` payloads (strings, `[DONE]` included). */
export async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until true or `ms` pass; returns whether it became true. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 2000, every = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(every);
  }
  return cond();
}

export function l2norm(v: number[]): number {
  return Math.sqrt(v.reduce((a, x) => a + x * x, 0));
}
