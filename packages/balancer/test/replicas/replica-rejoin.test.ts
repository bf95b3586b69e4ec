import Redis from 'ioredis';
import { InferenceRequest } from '../../src';
import { eventually } from '../e2e/harness';
import { startRedis } from '../redis-server';
import { startReplicas } from './replicas-harness';

const NODES = [{ id: 'n', models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'] }];

/**
 * Back from an outage, a restarted Redis holds none of the other replicas' leases until they rejoin
 * too: a replica that shared at once would hand out slots their running requests hold. It stays on
 * its local share until every replica it knew has written its leases back, or a lease TTL has
 * passed (one silent that long is gone, with its leases).
 */
describe('a replica back from a Redis outage', () => {
  test('waits for a replica it knew that does not come back, up to the lease TTL, before it shares again', async () => {
    const redis = await startRedis();
    const r = await startReplicas(1, NODES, redis.url, 'rejoin-ghost:', (c) => void (c.state.redis.leaseTtlMs = 8_000));
    const peek = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const [a] = r.factories;
      // A second replica, as A's heartbeat rounds see it: alive for the next minute.
      const [sec] = await peek.time();
      await peek.zadd('rejoin-ghost:replicas', Number(sec) * 1000 + 60_000, 'ghost');
      await eventually(() => a.getSharedState().replicas === 2, 10_000, 'A counts the ghost');
      await redis.stop();
      await eventually(() => !a.getSharedState().shared, 10_000, 'A on its local share');
      await redis.restart(); // empty: the ghost never heartbeats again
      const back = Date.now();
      // With a fixed pause it shared again within a few seconds; now it waits for the ghost.
      await new Promise((res) => setTimeout(res, 4_500));
      expect(a.getSharedState().shared).toBe(false);
      await eventually(() => a.getSharedState().shared, 15_000, 'A shares once the TTL has passed');
      expect(Date.now() - back).toBeGreaterThanOrEqual(4_500);
      expect(a.getSharedState().replicas).toBe(1);
    } finally {
      peek.disconnect();
      await r.close();
      await redis.stop();
    }
  }, 60_000);

  test('shares again as soon as the replicas it knew are back, well before the TTL', async () => {
    const redis = await startRedis();
    const r = await startReplicas(2, NODES, redis.url, 'rejoin-both:', (c) => void (c.state.redis.leaseTtlMs = 30_000));
    try {
      const [a, b] = r.factories;
      await eventually(() => a.getSharedState().replicas === 2 && b.getSharedState().replicas === 2, 30_000, 'both count both');
      await redis.stop();
      await eventually(() => !a.getSharedState().shared && !b.getSharedState().shared, 10_000, 'both on their local shares');
      await redis.restart();
      const back = Date.now();
      await eventually(() => a.getSharedState().shared && b.getSharedState().shared, 15_000, 'both share again');
      expect(Date.now() - back).toBeLessThan(15_000);
      expect(a.getSharedState().replicas).toBe(2);
    } finally {
      await r.close();
      await redis.stop();
    }
  }, 90_000);

  test('a request that ends while its replica waits to share again gives its lease back at once, not at the TTL', async () => {
    const redis = await startRedis();
    // Real time (scale 1): the request streams for about 3 s, across the outage's end.
    const r = await startReplicas(1, NODES, redis.url, 'rejoin-ended:', (c) => void (c.state.redis.leaseTtlMs = 10_000), { timeScale: 1 });
    const peek = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const [a] = r.factories;
      const [sec] = await peek.time();
      await peek.zadd('rejoin-ended:replicas', Number(sec) * 1000 + 60_000, 'ghost');
      await eventually(() => a.getSharedState().replicas === 2, 10_000, 'A counts the ghost');
      await redis.stop();
      await eventually(() => !a.getSharedState().shared, 10_000, 'A on its local share');
      const answer = a.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'a long one', { options: { num_predict: 150 } }));
      await eventually(() => a.getPoolView().nodes[0].inFlight === 1, 5_000, 'the request runs on the local share');
      await redis.restart(); // empty, and the ghost never comes back: A waits up to the TTL
      // A writes its leases back while it waits, the running request's among them.
      await eventually(async () => (await peek.zcard('rejoin-ended:slots:n')) === 1, 5_000, "the request's lease written back");
      expect((await answer).body.done).toBe(true);
      const ended = Date.now();
      await eventually(async () => (await peek.zcard('rejoin-ended:slots:n')) === 0, 5_000, 'the lease gone');
      // Well before the TTL, and while A still waited for the ghost.
      expect(Date.now() - ended).toBeLessThan(2_000);
      expect(a.getSharedState().shared).toBe(false);
    } finally {
      peek.disconnect();
      await r.close();
      await redis.stop();
    }
  }, 60_000);

  test("a replica whose subscriber came back without its channels subscribes again at its next round: it hears the others' releases and grants", async () => {
    const redis = await startRedis();
    // Renewal rounds every second.
    const r = await startReplicas(1, NODES, redis.url, 'rejoin-listen:');
    const peek = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const [a] = r.factories;
      const grants = `rejoin-listen:grant:${a.getSharedState().replicaId}`;
      const listening = async (): Promise<number> => Number(((await peek.pubsub('NUMSUB', grants)) as [string, number])[1]);
      await eventually(async () => (await listening()) === 1, 5_000, 'A listens for its grants');
      // What a reconnect that lost the subscriptions leaves (the subscriber is reached into for it).
      const sub = (a as unknown as { parts: { redis: { sub: Redis } } }).parts.redis.sub;
      await sub.unsubscribe();
      expect(await listening()).toBe(0);
      await eventually(async () => (await listening()) === 1, 3_000, 'A listens again');
    } finally {
      peek.disconnect();
      await r.close();
      await redis.stop();
    }
  });
});
