import { InferenceRequest } from '../../src';
import { eventually } from '../e2e/harness';
import { startRedis, type RedisServer } from '../redis-server';
import { startReplicas, type Replicas } from './replicas-harness';

const ask = (r: Replicas, i: number, prompt: string) => r.factories[i].getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', prompt, { options: { num_predict: 8 } }));
const breakerOf = (r: Replicas, i: number, node: string) => r.factories[i].getPoolView().nodes.find((n) => n.id === node)!.breakerState;

/** Node breakers shared by replicas: a node one replica sees fail is out of rotation on all. */
describe('replicas share node breakers through Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  test("one replica's open breaker is open on every replica, which then sends the node nothing", async () => {
    const r = await startReplicas(
      3,
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      redis.url,
      'breakers-open:',
      (c) => {
        c.strategy.type = 'round-robin';
        c.healthCheck.circuitBreakerRecoveryMs = 60_000;
      },
    );
    try {
      r.sim.node('a').refuse();
      // Only replica 0 meets the refusal (its requests are retried on b).
      for (let i = 0; i < 4; i++) await ask(r, 0, `first ${i}`);
      expect(breakerOf(r, 0, 'a')).toBe('open');
      await eventually(() => breakerOf(r, 1, 'a') === 'open' && breakerOf(r, 2, 'a') === 'open', 5_000, 'the open breaker on the other replicas');
      await r.sim.node('a').accept();
      const before = r.sim.node('a').state().requests;
      await Promise.all(Array.from({ length: 8 }, (_, i) => ask(r, 1 + (i % 2), `then ${i}`)));
      expect(r.sim.node('a').state().requests).toBe(before);
    } finally {
      await r.close();
    }
  });

  test('half-open trials are shared: the replicas together send no more than halfOpenRequests', async () => {
    const r = await startReplicas(
      3,
      [
        { id: 'a', models: ['llama3.2'], numParallel: 4 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      redis.url,
      'breakers-trials:',
      (c) => {
        c.strategy.type = 'round-robin';
        c.healthCheck.circuitBreakerRecoveryMs = 1_000;
        c.healthCheck.halfOpenRequests = 1;
      },
    );
    try {
      r.sim.node('a').refuse();
      for (let i = 0; i < 4; i++) await ask(r, 0, `first ${i}`);
      await eventually(() => [1, 2].every((i) => breakerOf(r, i, 'a') === 'open'), 5_000, 'the open breaker on the other replicas');
      // Back, but slow: a trial takes seconds, so trials from several replicas would overlap.
      r.sim.node('a').setFaults({ slowdown: 20 });
      await r.sim.node('a').accept();
      r.sim.node('a').reset({ faults: false, models: false });
      let stop = false;
      let served = 0;
      const client = async (i: number): Promise<void> => {
        for (let n = 0; !stop; n++) await ask(r, i % 3, `load ${i} ${n}`).then(() => served++);
      };
      const load = Promise.all(Array.from({ length: 6 }, (_, i) => client(i)));
      // Until a trial's verdict closes the breaker (on all), the node has at most one request.
      let peak = 0;
      await eventually(
        () => {
          peak = Math.max(peak, r.sim.node('a').state().inferenceInFlight);
          return [0, 1, 2].some((i) => breakerOf(r, i, 'a') === 'closed');
        },
        20_000,
        'a trial closing the breaker',
      );
      expect(peak).toBe(1);
      expect(served).toBeGreaterThan(0);
      stop = true;
      r.sim.node('a').clearFaults();
      await load;
    } finally {
      await r.close();
    }
  });
});
