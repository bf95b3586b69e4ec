import { startRedis, type RedisServer } from '../../../balancer/test/redis-server';
import { generate, metric, startReplicaGateways } from './replica-gateways';

/**
 * Three `ollama-ring serve` processes with `rateLimit.perNode` in their config, in front of one
 * emulated node: the node's rate holds for the three together, as the emulator counts its calls.
 */
describe("gateway replicas share a node's rate limit through Redis", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  test('the node never receives more than rateLimit.perNode from the three gateways together, and every request is answered', async () => {
    const rps = 4;
    const burst = 2;
    const r = await startReplicaGateways(3, [{ id: 'a', models: ['llama3.2'], numParallel: 4 }], redis.url, 'gw-rate:', { rateLimit: { perNode: { rps, burst } } });
    try {
      const received = () => r.sim.node('a').state().byRoute['POST /api/generate'] ?? 0;
      const t0 = Date.now();
      const over: string[] = [];
      const check = () => {
        const allowed = burst + (rps * (Date.now() - t0)) / 1000;
        if (received() > allowed) over.push(`${received()} received after ${Date.now() - t0} ms (at most ${allowed.toFixed(2)})`);
      };
      const timer = setInterval(check, 20);
      // Each gateway alone would let its burst through at once: 6 at the start, three times the rate after.
      const answers = await Promise.all(Array.from({ length: 18 }, (_, i) => generate(r.gateways[i % 3].url, `q${i}`, 4)));
      clearInterval(timer);
      check();
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(over).toEqual([]);
      expect(received()).toBe(18);
      let refused = 0;
      for (const g of r.gateways) refused += await metric(g.url, 'ollama_lb_replica_node_rate_refused_total');
      expect(refused).toBeGreaterThan(0);
    } finally {
      await r.close();
    }
  });
});
