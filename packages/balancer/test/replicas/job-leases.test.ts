import { JobLeaseLostError, type JobLeasePort } from '@ollama-ring/balancer';
import { redisClient, startRedis, type RedisServer } from '../redis-server';
import { type Replicas, startReplicas } from './replicas-harness';

/**
 * The job leases two replicas own batch jobs and workflow runs through (`getJobLeases()`, on the
 * Redis backend's own connections), against a real redis-server.
 */
describe('job leases shared by replicas', () => {
  let redis: RedisServer;
  let r: Replicas;
  let a: JobLeasePort;
  let b: JobLeasePort;
  let probe: ReturnType<typeof redisClient>;
  beforeAll(async () => {
    redis = await startRedis();
    probe = redisClient(redis.url);
    r = await startReplicas(2, [{ id: 'n1', models: ['llama3.2'] }], redis.url, 'jl:');
    a = r.factories[0].getJobLeases()!;
    b = r.factories[1].getJobLeases()!;
  });
  afterAll(async () => {
    probe?.disconnect();
    await r?.close();
    await redis?.stop();
  });

  test('one holder at a time; given back, the other can take it', async () => {
    const held = await a.acquire('batch:one');
    expect(held).toBeDefined();
    expect(held!.held()).toBe(true);
    expect(await b.acquire('batch:one')).toBeUndefined();
    expect(await probe.get('jl:lease:batch:one')).toBe(held!.token);
    await held!.release();
    expect(held!.held()).toBe(false);
    const next = await b.acquire('batch:one');
    expect(next).toBeDefined();
    // A holder that gave the lease back cannot drop or renew the next holder's.
    await held!.release();
    expect(await held!.confirm()).toBe(false);
    expect(await next!.confirm()).toBe(true);
    await next!.release();
    expect(await probe.exists('jl:lease:batch:one')).toBe(0);
  });

  test('renewed while held: it outlives its TTL', async () => {
    const held = (await a.acquire('batch:long'))!;
    await new Promise((res) => setTimeout(res, 4_500)); // TTL 3 s
    expect(held.held()).toBe(true);
    expect(await held.confirm()).toBe(true);
    expect(await b.acquire('batch:long')).toBeUndefined();
    await held.release();
  });

  test('a lease Redis lost (a restart without its data) is lost for its holder at the next confirm, and its signal says so', async () => {
    const held = (await a.acquire('workflow:w1'))!;
    await probe.del('jl:lease:workflow:w1');
    const taken = (await b.acquire('workflow:w1'))!;
    expect(taken).toBeDefined();
    expect(await held.confirm()).toBe(false);
    expect(held.held()).toBe(false);
    expect(held.signal.aborted).toBe(true);
    expect(held.signal.reason).toBeInstanceOf(JobLeaseLostError);
    expect(await taken.confirm()).toBe(true);
    await taken.release();
  });

  test('notices reach every replica', async () => {
    const heard: string[] = [];
    const stop = b.onNotice((name, what) => heard.push(`${what} ${name}`));
    await a.notify('batch:x', 'cancel');
    const end = Date.now() + 5_000;
    while (heard.length === 0 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    stop();
    expect(heard).toEqual(['cancel batch:x']);
  });
});
