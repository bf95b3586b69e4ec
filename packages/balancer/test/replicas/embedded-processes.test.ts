import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { startRedis, type RedisServer } from '../redis-server';

const DIST = resolve(__dirname, '..', '..', 'dist', 'index.js');

/** A process embedding a PipelineFactory (the compiled library) that sends `n` requests at once and reports how they ended. */
const CHILD = `
const { PipelineFactory, InferenceRequest, RateLimitedError } = require(process.env.RING_DIST);
(async () => {
  const f = await PipelineFactory.create(JSON.parse(process.env.RING_CONFIG)).start();
  const n = Number(process.env.RING_N);
  const all = await Promise.allSettled(Array.from({ length: n }, (_, i) => f.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'p' + i, { options: { num_predict: 16 } }))));
  const served = all.filter((r) => r.status === 'fulfilled').length;
  const limited = all.filter((r) => r.status === 'rejected' && r.reason instanceof RateLimitedError).length;
  const other = all.filter((r) => r.status === 'rejected' && !(r.reason instanceof RateLimitedError)).map((r) => String(r.reason));
  await f.stop(5000);
  process.stdout.write(JSON.stringify({ served, limited, other }) + '\\n');
})().catch((e) => { console.error(e); process.exit(1); });
`;

function runChild(config: unknown, n: number): Promise<{ served: number; limited: number; other: string[] }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['-e', CHILD], {
      env: { ...process.env, RING_DIST: DIST, RING_CONFIG: JSON.stringify(config), RING_N: String(n) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => void (out += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
    p.once('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`child exited ${code}: ${err}`))));
  });
}

/** Seed 000's case: several processes on one machine, each embedding the library, sharing one pool's slots and limits. */
describe('embedded PipelineFactory processes sharing one pool through Redis', () => {
  let redis: RedisServer;
  let sim: SimPool;
  beforeAll(async () => {
    redis = await startRedis();
    sim = await startSimPool({
      timeScale: 0.02,
      models: [{ name: 'llama3.2', loadMs: 2000 }],
      nodes: [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 1 },
      ],
    });
  });
  afterAll(async () => {
    await sim?.close();
    await redis?.stop();
  });

  test("two processes together stay within each node's slots and the pool's rate limit", async () => {
    const config = {
      nodes: [
        { id: 'a', url: sim.node('a').url, maxConcurrentRequests: 2 },
        { id: 'b', url: sim.node('b').url, maxConcurrentRequests: 1 },
      ],
      // Ten requests in all, then a token every 20 s: nothing refills during the test.
      rateLimit: { global: { rps: 0.05, burst: 10 } },
      state: { backend: 'redis', redis: { url: redis.url, keyPrefix: 'embedded:', leaseTtlMs: 3000, commandTimeoutMs: 2000 } },
    };
    const [one, two] = await Promise.all([runChild(config, 8), runChild(config, 8)]);
    expect([...one.other, ...two.other]).toEqual([]);
    expect(one.served + two.served).toBe(10);
    expect(one.limited + two.limited).toBe(6);
    const peaks = Object.fromEntries(sim.state().map((s) => [s.id, s.peakInferenceInFlight]));
    expect(peaks.a).toBeLessThanOrEqual(2);
    expect(peaks.b).toBeLessThanOrEqual(1);
  });
});
