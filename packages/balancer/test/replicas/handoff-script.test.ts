import type Redis from 'ioredis';
import { BATCH_OFFSET, WANT } from '../../src/shared/handoff-lua';
import { RELEASE_HELD } from '../../src/shared/holder-lua';
import { ACQUIRE } from '../../src/shared/lua';
import { ScriptRunner } from '../../src/shared/scripts';
import { redisClient, startRedis, type RedisServer } from '../redis-server';

const TTL = 60_000;

/**
 * The handoff of a freed slot to the node's oldest contender among the replicas, run in a real
 * Redis: a full node's refused ask records the replica, and a release hands the slot to the oldest
 * contender that asked lately and whose replica is alive, as that replica's own lease.
 */
describe('the lease scripts hand a freed slot to the oldest contender', () => {
  let redis: RedisServer;
  let client: Redis;
  let sub: Redis;
  let scripts: ScriptRunner;
  const messages: string[] = [];
  let n = 0;
  beforeAll(async () => {
    redis = await startRedis();
    client = redisClient(redis.url);
    sub = redisClient(redis.url);
    for (const c of [client, sub]) if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    await sub.subscribe('h:freed');
    sub.on('message', (_channel: string, m: string) => messages.push(m));
  });
  afterAll(async () => {
    client?.disconnect();
    sub?.disconnect();
    await redis?.stop();
  });
  beforeEach(() => {
    messages.length = 0;
    scripts = new ScriptRunner(client);
  });

  /**
   * A node of its own for each test, and the replicas alive (heartbeats a minute ahead) and
   * listening on their grant channels (`connected`: all of them unless said).
   */
  async function node(alive: string[], connected: string[] = alive): Promise<string> {
    n++;
    const p = `h${n}:`;
    for (const r of alive) await client.zadd(`${p}replicas`, Date.now() + TTL, r);
    if (connected.length > 0) await sub.subscribe(...connected.map((r) => `h:grant:${r}`));
    return p;
  }

  function acquire(p: string, member: string, max: number, score?: number): Promise<[number, number, number, number]> {
    const replica = member.slice(0, member.indexOf('#'));
    const extra = score === undefined ? { keys: [], args: [] } : { keys: [`${p}want:n`, `${p}want-at:n`], args: [score, replica] };
    return scripts.run(ACQUIRE, [`${p}slots:n`, `${p}rate:node:n`, ...extra.keys], [member, max, TTL, 'h:freed', 'n', 0, 0, ...extra.args]) as Promise<
      [number, number, number, number]
    >;
  }

  function release(p: string, member: string, max: number): Promise<number> {
    const keys = [`${p}slots:n`, `${p}holders:n`, `${p}want:n`, `${p}want-at:n`, `${p}replicas`, `${p}handoff-seq`, `${p}rate:node:n`];
    return scripts.run(RELEASE_HELD, keys, [member, 'h:freed', 'n', 'gone', max, TTL, 0, 0, 'h:grant:']) as Promise<number>;
  }

  /** The grants published since the test began. */
  async function grants(count: number): Promise<{ n: string; r: string; k: string; c: number }[]> {
    for (let i = 0; i < 100; i++) {
      const g = messages.filter((m) => m.startsWith('{'));
      if (g.length >= count) return g.map((m) => JSON.parse(m) as { n: string; r: string; k: string; c: number });
      await new Promise((r) => setTimeout(r, 20));
    }
    return [];
  }

  test('a full node records the refused replica; a release hands the slot to the oldest contender, as its own lease', async () => {
    const p = await node(['a', 'b', 'c']);
    expect((await acquire(p, 'a#1', 1, 1000))[0]).toBe(1);
    // b asked first for a younger request, c for an older one: c is the oldest contender.
    expect((await acquire(p, 'b#1', 1, 3000))[0]).toBe(0);
    expect((await acquire(p, 'c#1', 1, 2000))[0]).toBe(0);
    expect(await client.zrange(`${p}want:n`, 0, -1)).toEqual(['c', 'b']);
    // A later ask of b overwrites its entry (one per replica and node).
    expect((await acquire(p, 'b#2', 1, 1500))[0]).toBe(0);
    expect(await client.zrange(`${p}want:n`, 0, -1)).toEqual(['b', 'c']);
    expect(await release(p, 'a#1', 1)).toBe(1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['b#-1']);
    expect(await client.zrange(`${p}want:n`, 0, -1)).toEqual(['c']);
    const [g] = await grants(1);
    expect(g).toMatchObject({ n: 'n', r: 'b', k: 'b#-1', c: 1 });
    // The grant comes before the count, which stays at the node's max.
    expect(messages.indexOf('n 1')).toBeGreaterThan(messages.findIndex((m) => m.startsWith('{')));
    // b gives its handed lease back: the next contender, c, has it.
    expect(await release(p, 'b#-1', 1)).toBe(1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['c#-2']);
    // Nobody left: c's release frees the slot and announces it.
    expect(await release(p, 'c#-2', 1)).toBe(0);
    expect(await client.zcard(`${p}slots:n`)).toBe(0);
    // Published by the script, heard on the other connection a moment later.
    for (let i = 0; i < 100 && !messages.includes('n 0'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(messages).toContain('n 0');
  });

  test('stale and dead contenders are skipped and removed', async () => {
    const p = await node(['a', 'old', 'live']);
    // 'dead' has no heartbeat; 'gone' had one that expired; 'old' asked over a TTL ago.
    await client.zadd(`${p}replicas`, Date.now() - 1000, 'gone');
    expect((await acquire(p, 'a#1', 1))[0]).toBe(1);
    for (const [r, score] of [
      ['dead', 100],
      ['gone', 200],
      ['old', 300],
      ['live', 400],
    ] as const)
      expect((await acquire(p, `${r}#1`, 1, score))[0]).toBe(0);
    const t = await client.time();
    await client.hset(`${p}want-at:n`, 'old', Number(t[0]) * 1000 - TTL - 5_000);
    await release(p, 'a#1', 1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['live#-1']);
    expect(await client.zcard(`${p}want:n`)).toBe(0);
    expect(await client.hlen(`${p}want-at:n`)).toBe(0);
  });

  test('a contender alive by its heartbeat but with nobody on its grant channel (its process killed) is skipped', async () => {
    const p = await node(['a', 'killed', 'live'], ['a', 'live']);
    expect((await acquire(p, 'a#1', 1))[0]).toBe(1);
    expect((await acquire(p, 'killed#1', 1, 100))[0]).toBe(0);
    expect((await acquire(p, 'live#1', 1, 200))[0]).toBe(0);
    await release(p, 'a#1', 1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['live#-2']);
    expect(await client.zcard(`${p}want:n`)).toBe(0);
  });

  test('no handoff beyond the node max, and none for a lease already gone', async () => {
    const p = await node(['a', 'b']);
    // Two leases on a node whose slots were cut to 1 since: freeing one leaves it full.
    expect((await acquire(p, 'a#1', 2))[0]).toBe(1);
    expect((await acquire(p, 'a#2', 2))[0]).toBe(1);
    expect((await acquire(p, 'b#1', 1, 500))[0]).toBe(0);
    expect(await release(p, 'a#1', 1)).toBe(1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['a#2']);
    expect(await client.zrange(`${p}want:n`, 0, -1)).toEqual(['b']);
    // A release of a lease no longer in the set hands nothing.
    expect(await release(p, 'a#1', 1)).toBe(1);
    expect(await client.zrange(`${p}want:n`, 0, -1)).toEqual(['b']);
    expect(await release(p, 'a#2', 1)).toBe(1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['b#-1']);
  });

  test('a batch ask does not outrank an interactive one, however old', async () => {
    const p = await node(['a', 'batch', 'inter']);
    expect((await acquire(p, 'a#1', 1))[0]).toBe(1);
    expect((await acquire(p, 'batch#1', 1, 1000 + BATCH_OFFSET))[0]).toBe(0);
    expect((await acquire(p, 'inter#1', 1, 9000))[0]).toBe(0);
    await release(p, 'a#1', 1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['inter#-1']);
    // The batch contender is next.
    await release(p, 'inter#-1', 1);
    expect(await client.zrange(`${p}slots:n`, 0, -1)).toEqual(['batch#-2']);
  });

  test('an ask refused for the node rate records no contender; WANT records and withdraws', async () => {
    const p = await node(['a', 'b']);
    const rated = (member: string, score: number) =>
      scripts.run(ACQUIRE, [`${p}slots:n`, `${p}rate:node:n`, `${p}want:n`, `${p}want-at:n`], [member, 4, TTL, 'h:freed', 'n', 0.05, 1, score, member.slice(0, 1)]);
    expect(((await rated('a#1', 10)) as number[])[0]).toBe(1);
    const [granted, , , wait] = (await rated('b#1', 20)) as number[];
    expect(granted).toBe(0);
    expect(wait).toBeGreaterThan(0);
    expect(await client.zcard(`${p}want:n`)).toBe(0);
    await scripts.run(WANT, [`${p}want:n`, `${p}want-at:n`, `${p}want:m`, `${p}want-at:m`], ['b', TTL, 700, 800]);
    expect(await client.zscore(`${p}want:n`, 'b')).toBe('700');
    expect(await client.zscore(`${p}want:m`, 'b')).toBe('800');
    await scripts.run(WANT, [`${p}want:n`, `${p}want-at:n`], ['b', TTL, '']);
    expect(await client.zcard(`${p}want:n`)).toBe(0);
    expect(await client.hlen(`${p}want-at:n`)).toBe(0);
  });
});
