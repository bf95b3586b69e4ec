import { InferenceRequest, RateLimitedError } from '../../src';
import { startRedis, type RedisServer } from '../redis-server';
import { startReplicas, type Replicas } from './replicas-harness';

/** Outcomes of `n` requests sent round-robin over the replicas: how many were served and how many refused for a rate. */
async function burst(r: Replicas, n: number, clientKey?: string): Promise<{ served: number; limited: string[] }> {
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      r.factories[i % r.factories.length].getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', `r${i}`, { options: { num_predict: 4 } }), { clientKey }),
    ),
  );
  const limited: string[] = [];
  let served = 0;
  for (const x of results) {
    if (x.status === 'fulfilled') served++;
    else if (x.reason instanceof RateLimitedError) limited.push(x.reason.limit);
    else throw x.reason;
  }
  return { served, limited };
}

describe('replicas share rate limits through Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  test("a key's limit holds across three replicas, and another key has its own", async () => {
    // A token every 20 s: nothing refills during the test.
    const r = await startReplicas(3, [{ id: 'a', models: ['llama3.2'], numParallel: 4 }], redis.url, 'limits-key:', (c) => {
      c.rateLimit.perClient = { rps: 0.05, burst: 4 };
    });
    try {
      const first = await burst(r, 12, 'team-a');
      // One replica alone would let 4 through; three separate ones 12.
      expect(first.served).toBe(4);
      expect(first.limited).toEqual(Array.from({ length: 8 }, () => 'client'));
      const other = await burst(r, 3, 'team-b');
      expect(other.served).toBe(3);
    } finally {
      await r.close();
    }
  });

  test('the global limit holds across replicas', async () => {
    const r = await startReplicas(3, [{ id: 'a', models: ['llama3.2'], numParallel: 4 }], redis.url, 'limits-global:', (c) => {
      c.rateLimit.global = { rps: 0.05, burst: 5 };
    });
    try {
      const out = await burst(r, 9);
      expect(out.served).toBe(5);
      expect(out.limited).toEqual(['global', 'global', 'global', 'global']);
    } finally {
      await r.close();
    }
  });
});
