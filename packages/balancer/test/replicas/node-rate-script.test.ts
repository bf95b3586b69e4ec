import type Redis from 'ioredis';
import { ACQUIRE } from '../../src/shared/lua';
import { ScriptRunner } from '../../src/shared/scripts';
import { redisClient, startRedis, type RedisServer } from '../redis-server';

/**
 * The lease script with a node's rate bucket (`rateLimit.perNode` shared by replicas), run in a real
 * Redis: a lease comes with one of the node's tokens or not at all.
 */
describe('the lease script takes the node rate token with the slot', () => {
  let redis: RedisServer;
  let client: Redis;
  let scripts: ScriptRunner;
  let n = 0;
  beforeAll(async () => {
    redis = await startRedis();
    client = redisClient(redis.url);
    if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
    scripts = new ScriptRunner(client);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  /** A node of its own for each test: its lease set and its rate bucket. */
  function node(): { slots: string; rate: string } {
    n++;
    return { slots: `lua:slots:n${n}`, rate: `lua:rate:node:n${n}` };
  }

  /** One ask: {granted, held, swept, rate wait ms}. */
  async function acquire(k: { slots: string; rate: string }, member: string, max: number, rps: number, cap: number): Promise<[number, number, number, number]> {
    return (await scripts.run(ACQUIRE, [k.slots, k.rate], [member, max, 60_000, 'lua:freed', 'n', rps, cap])) as [number, number, number, number];
  }

  test('without a node rate (rps 0), only the slots count, and no bucket is written', async () => {
    const k = node();
    expect(await acquire(k, 'r#1', 2, 0, 0)).toEqual([1, 1, 0, 0]);
    expect(await acquire(k, 'r#2', 2, 0, 0)).toEqual([1, 2, 0, 0]);
    expect(await acquire(k, 'r#3', 2, 0, 0)).toEqual([0, 2, 0, 0]);
    expect(await client.exists(k.rate)).toBe(0);
  });

  test('an empty bucket refuses the lease, says when a token comes, and adds no lease', async () => {
    const k = node();
    // Capacity 2, a token every 20 s: nothing refills during the test.
    expect((await acquire(k, 'r#1', 8, 0.05, 2))[0]).toBe(1);
    expect((await acquire(k, 'r#2', 8, 0.05, 2))[0]).toBe(1);
    const [granted, held, , wait] = await acquire(k, 'r#3', 8, 0.05, 2);
    expect(granted).toBe(0);
    expect(held).toBe(2);
    expect(wait).toBeGreaterThan(15_000);
    expect(wait).toBeLessThanOrEqual(20_000);
    expect(await client.zcard(k.slots)).toBe(2);
  });

  test('a full node takes no token: the refusal is for its slots, and the token is there for the next lease', async () => {
    const k = node();
    expect((await acquire(k, 'r#1', 1, 0.05, 2))[0]).toBe(1);
    // Refused for the slot (no rate wait), and its token not spent.
    expect(await acquire(k, 'r#2', 1, 0.05, 2)).toEqual([0, 1, 0, 0]);
    expect(Number(await client.hget(k.rate, 't'))).toBeCloseTo(1, 3);
    await client.zrem(k.slots, 'r#1');
    expect((await acquire(k, 'r#2', 1, 0.05, 2))[0]).toBe(1);
    // Now both tokens are gone.
    expect((await acquire(k, 'r#3', 2, 0.05, 2))[3]).toBeGreaterThan(0);
  });

  test('the bucket refills at its rate, as the local token bucket does', async () => {
    const k = node();
    // 20 a second, capacity 1: a token every 50 ms.
    expect((await acquire(k, 'r#1', 8, 20, 1))[0]).toBe(1);
    const [granted, , , wait] = await acquire(k, 'r#2', 8, 20, 1);
    expect(granted).toBe(0);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(50);
    await new Promise((r) => setTimeout(r, wait + 5));
    expect((await acquire(k, 'r#2', 8, 20, 1))[0]).toBe(1);
  });

  test('a lease already held is granted again without a token (a repeated ask)', async () => {
    const k = node();
    expect((await acquire(k, 'r#1', 4, 0.05, 1))[0]).toBe(1);
    expect(await acquire(k, 'r#1', 4, 0.05, 1)).toEqual([1, 1, 0, 0]);
  });

  test('a reload applies at the next ask: a smaller capacity clamps the level, a new rate refills at it', async () => {
    const k = node();
    // Capacity 5: one taken leaves 4.
    expect((await acquire(k, 'r#1', 20, 0.05, 5))[0]).toBe(1);
    // Reloaded to capacity 2: 2 left, not 4.
    expect((await acquire(k, 'r#2', 20, 0.05, 2))[0]).toBe(1);
    expect((await acquire(k, 'r#3', 20, 0.05, 2))[0]).toBe(1);
    expect((await acquire(k, 'r#4', 20, 0.05, 2))[0]).toBe(0);
    // Turned off: the slots alone count again.
    expect((await acquire(k, 'r#4', 20, 0, 0))[0]).toBe(1);
  });
});
