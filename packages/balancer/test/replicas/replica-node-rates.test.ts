import { InferenceRequest } from '../../src';
import { eventually } from '../e2e/harness';
import { redisClient, startRedis, type RedisServer } from '../redis-server';
import { startReplicas, type Replicas } from './replicas-harness';

const GENERATE = 'POST /api/generate';

/**
 * Watches what each node of the emulator has received (its generate calls, counted by the emulator
 * itself) from `t0` on, and records every sample that is over the node's rate: more than `burst`
 * plus `rps` a second since `t0` (the node's bucket cannot have started before `t0`).
 */
function watchRate(r: Replicas, nodes: string[], rps: number, burst: number): { over: string[]; stop(): void } {
  const t0 = Date.now();
  const over: string[] = [];
  const check = () => {
    for (const id of nodes) {
      const received = r.sim.node(id).state().byRoute[GENERATE] ?? 0;
      const allowed = burst + (rps * (Date.now() - t0)) / 1000;
      if (received > allowed) over.push(`${id}: ${received} received after ${Date.now() - t0} ms (at most ${allowed.toFixed(2)})`);
    }
  };
  const timer = setInterval(check, 20);
  return {
    over,
    stop() {
      clearInterval(timer);
      check();
    },
  };
}

/** `n` requests sent at once, round-robin over the replicas; all must be served. */
async function send(r: Replicas, n: number): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => r.factories[i % r.factories.length].getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', `q${i}`, { options: { num_predict: 4 } }))),
  );
  expect(answers.every((a) => a.body.done === true)).toBe(true);
}

/** The sum of one metric family's series in a replica's scrape. */
async function metric(r: Replicas, i: number, name: string): Promise<number> {
  const text = await r.factories[i].getMetricsRegistry().scrape();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

describe("replicas share each node's rate limit (rateLimit.perNode) through Redis", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  test('no node receives more than its rate from three replicas together; a node over its rate leaves its requests to the other', async () => {
    const r = await startReplicas(
      3,
      [
        { id: 'a', models: ['llama3.2'], numParallel: 4 },
        { id: 'b', models: ['llama3.2'], numParallel: 4 },
      ],
      redis.url,
      'node-rate:',
      (c) => {
        c.rateLimit.perNode = { rps: 4, burst: 2 };
      },
    );
    try {
      const watch = watchRate(r, ['a', 'b'], 4, 2);
      // Three separate replicas would let 2 through at once each, to each node: 12 at the start.
      await send(r, 30);
      watch.stop();
      expect(watch.over).toEqual([]);
      const got = (id: string) => r.sim.node(id).state().byRoute[GENERATE] ?? 0;
      expect(got('a') + got('b')).toBe(30);
      // Neither node took them all: the one over its rate left requests to the other.
      expect(got('a')).toBeGreaterThanOrEqual(10);
      expect(got('b')).toBeGreaterThanOrEqual(10);
      // Refusals for the rate were counted, and a refusal closed the node until its bucket refills
      // rather than asking Redis again at once: at most a few asks per replica and token (about 200
      // here), where asking again at every answer makes tens of thousands.
      let refused = 0;
      for (let i = 0; i < 3; i++) refused += await metric(r, i, 'ollama_lb_replica_node_rate_refused_total');
      expect(refused).toBeGreaterThan(0);
      expect(refused).toBeLessThan(1_000);
      for (const f of r.factories) await eventually(() => f.getPoolView().nodes.every((n) => n.inFlight === 0), 5_000, 'in-flight back to 0');
      // Every lease went back.
      const probe = redisClient(redis.url);
      try {
        if (probe.status !== 'ready') await new Promise((res) => probe.once('ready', res));
        const end = Date.now() + 5_000;
        while ((await probe.zcard('node-rate:slots:a')) + (await probe.zcard('node-rate:slots:b')) > 0) {
          if (Date.now() > end) throw new Error('leases left in Redis after the load');
          await new Promise((res) => setTimeout(res, 50));
        }
      } finally {
        probe.disconnect();
      }
    } finally {
      await r.close();
    }
  });

  test("Redis out: each replica keeps to its share of the node's rate (rps / replicas seen)", async () => {
    const r = await startReplicas(3, [{ id: 'a', models: ['llama3.2'], numParallel: 4 }], redis.url, 'node-rate-out:', (c) => {
      c.rateLimit.perNode = { rps: 3, burst: 3 };
    });
    try {
      // Each must have seen the other two before Redis goes (heartbeats every second here).
      for (const f of r.factories) await eventually(() => f.getSharedState().replicas === 3, 5_000, 'three replicas seen');
      await redis.stop();
      for (const f of r.factories) await eventually(() => !f.getSharedState().shared, 10_000, 'on the local share');
      const watch = watchRate(r, ['a'], 3, 3);
      // Each replica alone with the whole rate would let 3 through at once: 9.
      await send(r, 12);
      watch.stop();
      expect(watch.over).toEqual([]);
      expect(r.sim.node('a').state().byRoute[GENERATE]).toBe(12);
    } finally {
      await redis.restart();
      await r.close();
    }
  });
});
