import { redisClient, startRedis, type RedisServer } from '../../../balancer/test/redis-server';
import { generate, getJson, metric, type ReplicaGateways, startReplicaGateways } from './replica-gateways';

/**
 * Three `ollama-ring serve` processes on one emulated pool and one real Redis: what a user running
 * replicas behind a load balancer would notice.
 */
describe('gateway replicas sharing a pool through Redis', () => {
  let redis: RedisServer;
  let r: ReplicaGateways;
  let probe: ReturnType<typeof redisClient>;
  beforeAll(async () => {
    redis = await startRedis();
    probe = redisClient(redis.url);
    r = await startReplicaGateways(
      3,
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 1 },
      ],
      redis.url,
      'gw:',
    );
  });
  afterAll(async () => {
    probe?.disconnect();
    await r?.close();
    await redis?.stop();
  });

  const allIdle = async (): Promise<boolean> => {
    for (const g of r.gateways) {
      if (g.proc.exitCode !== null || g.proc.signalCode !== null) continue;
      const h = await getJson(g.url, '/health');
      if ((h.body.nodes as { in_flight: number }[]).some((n) => n.in_flight !== 0)) return false;
    }
    return true;
  };
  const waitIdle = async (ms = 10_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await allIdle())) {
      if (Date.now() > end) throw new Error('in-flight did not return to 0');
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  test('round-robin load over three replicas never puts more on a node than its slots', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => generate(r.gateways[i % 3].url, `q${i}`)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(r.peaks()).toEqual({ a: 2, b: 1 });
    await waitIdle();
    expect(await probe.zcard('gw:slots:a')).toBe(0);
    const health = await getJson(r.gateways[0].url, '/health');
    expect(health.body.state).toMatchObject({ backend: 'redis', shared: true });
    const ready = await getJson(r.gateways[1].url, '/ready');
    expect(ready.body).toMatchObject({ status: 'ready', state: { backend: 'redis', shared: true } });
  });

  test("an admin change on one replica is applied on all, and seen in every replica's /api/stats", async () => {
    const post = async (url: string, path: string, body?: unknown): Promise<number> =>
      (await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).status;
    type Stats = { strategy: string; instances: Record<string, { admin_disabled: boolean }> };
    const statsOf = async (url: string): Promise<Stats> => (await getJson(url, '/api/stats')).body as unknown as Stats;
    const seenOnAll = async (pred: (s: Stats) => boolean, what: string): Promise<void> => {
      const end = Date.now() + 5_000;
      for (const g of r.gateways) {
        while (!pred(await statsOf(g.url))) {
          if (Date.now() > end) throw new Error(`not on every replica: ${what}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    };
    expect(await post(r.gateways[0].url, '/admin/nodes/b/disable')).toBe(200);
    expect(await post(r.gateways[0].url, '/admin/strategy', { strategy: 'least-in-flight' })).toBe(200);
    await seenOnAll((s) => s.instances.b.admin_disabled && s.strategy === 'least-in-flight', 'b disabled, least-in-flight');
    // Disabled everywhere: requests through any replica go to a alone.
    const before = r.sim.node('b').state().requests;
    const answers = await Promise.all([0, 1, 2].map((i) => generate(r.gateways[i].url, `admin ${i}`)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(r.sim.node('b').state().requests).toBe(before);
    // Changed back on another replica.
    expect(await post(r.gateways[1].url, '/admin/nodes/b/enable')).toBe(200);
    expect(await post(r.gateways[2].url, '/admin/strategy', { strategy: 'predictive' })).toBe(200);
    await seenOnAll((s) => !s.instances.b.admin_disabled && s.strategy === 'predictive', 'b enabled, predictive');
  });

  test('Redis stopped and started again: no request fails, the replicas fall back and rejoin, in-flight returns to zero', async () => {
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    const client = async (i: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const g = r.gateways[(i + n) % 3];
        const a = await generate(g.url, `load ${i} ${n}`, 16);
        if (a.status === 200) served++;
        else failures.push(`${a.status} ${JSON.stringify(a.body)}`);
      }
    };
    const load = Promise.all(Array.from({ length: 5 }, (_, i) => client(i)));
    await new Promise((res) => setTimeout(res, 500));
    await redis.stop();
    for (const g of r.gateways) {
      const end = Date.now() + 10_000;
      while (((await getJson(g.url, '/health')).body.state as { shared: boolean }).shared) {
        if (Date.now() > end) throw new Error('a replica did not notice Redis was out');
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    const during = served;
    await new Promise((res) => setTimeout(res, 1_500));
    expect(served).toBeGreaterThan(during); // still serving on the local shares
    expect(await metric(r.gateways[0].url, 'ollama_lb_replica_fallback')).toBe(1);
    await redis.restart();
    for (const g of r.gateways) {
      const end = Date.now() + 10_000;
      while (!((await getJson(g.url, '/ready')).body.state as { shared: boolean }).shared) {
        if (Date.now() > end) throw new Error('a replica did not rejoin');
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    await new Promise((res) => setTimeout(res, 500));
    stop = true;
    await load;
    expect(failures).toEqual([]);
    await waitIdle();
    // Every lease went back once the load ended: none leaked through the outage.
    const end = Date.now() + 8_000;
    while ((await probe.zcard('gw:slots:a')) + (await probe.zcard('gw:slots:b')) > 0) {
      if (Date.now() > end) throw new Error('leases left in Redis after the load');
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(await metric(r.gateways[0].url, 'ollama_lb_replica_fallback')).toBe(0);
    expect(await metric(r.gateways[0].url, 'ollama_lb_replica_redis_errors_total')).toBeGreaterThan(0);
  });

  test("a SIGKILLed replica's leases are reclaimed within the TTL", async () => {
    const victim = r.gateways[2];
    // Every replica shares again after the outage before: on its local share a replica writes its
    // leases to Redis only when it rejoins, and the count below would miss them.
    const end = Date.now() + 15_000;
    for (const g of r.gateways) {
      while ((await metric(g.url, 'ollama_lb_replica_fallback')) !== 0) {
        if (Date.now() > end) throw new Error(`${g.url} still on its local share`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    // Slow nodes: the two answers are still streaming when the replica dies.
    for (const id of ['a', 'b']) r.sim.node(id).setFaults({ slowdown: 30 });
    // Two long answers on the victim take both of node a's slots... or one of a's and b's.
    const streams = [0, 1].map(() =>
      fetch(`${victim.url}/api/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama3.2', prompt: 'a long one', options: { num_predict: 100000 } }),
      }).then(async (res) => {
        const reader = res.body!.getReader();
        await reader.read(); // the first chunk: the request holds its slot
        return reader;
      }),
    );
    const readers = await Promise.all(streams);
    const held = async (): Promise<number> => (await probe.zcard('gw:slots:a')) + (await probe.zcard('gw:slots:b'));
    expect(await held()).toBe(2);
    victim.proc.kill('SIGKILL');
    await new Promise<void>((res) => victim.proc.once('exit', () => res()));
    for (const rd of readers) await rd.cancel().catch(() => undefined);
    for (const id of ['a', 'b']) r.sim.node(id).clearFaults();
    const killedAt = Date.now();
    while ((await held()) > 0) {
      // TTL 3 s, swept at the survivors' next round (every second).
      if (Date.now() - killedAt > 8_000) throw new Error(`leases of the killed replica not reclaimed: ${await held()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const reclaimed = (await metric(r.gateways[0].url, 'ollama_lb_replica_leases_reclaimed_total')) + (await metric(r.gateways[1].url, 'ollama_lb_replica_leases_reclaimed_total'));
    expect(reclaimed).toBeGreaterThanOrEqual(2);
    // The survivors have every slot again.
    const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => generate(r.gateways[i % 2].url, `after ${i}`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });
});
