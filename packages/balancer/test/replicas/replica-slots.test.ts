import Redis from 'ioredis';
import { PipelineFactory } from '@ollama-ring/balancer';
import { InferenceRequest } from '../../src';
import { eventually } from '../e2e/harness';
import { startRedis, type RedisServer } from '../redis-server';
import { startReplicas, type Replicas } from './replicas-harness';

/** Three replicas on one Redis: the pool's slots hold across all of them. */
describe('replicas share node slots through Redis', () => {
  let redis: RedisServer;
  let r: Replicas;
  beforeAll(async () => {
    redis = await startRedis();
    r = await startReplicas(
      3,
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 1 },
      ],
      redis.url,
      'slots-test:',
    );
  });
  afterAll(async () => {
    await r?.close();
    await redis?.stop();
  });

  test('no node ever has more requests in flight from all replicas than its slots, and every request is served', async () => {
    const jobs = Array.from({ length: 36 }, (_, i) =>
      r.factories[i % 3].getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', `question ${i}`, { options: { num_predict: 24 } })),
    );
    const answers = await Promise.all(jobs);
    expect(answers.every((a) => a.body.done === true)).toBe(true);
    const peaks = r.peaks();
    expect(peaks.a).toBeLessThanOrEqual(2);
    expect(peaks.b).toBeLessThanOrEqual(1);
    // Both nodes were used: the replicas did not simply serialise on one.
    expect(peaks.a).toBeGreaterThan(0);
    expect(peaks.b).toBeGreaterThan(0);
    for (const f of r.factories) await eventually(() => f.getPoolView().nodes.every((n) => n.inFlight === 0), 5_000, 'in-flight back to 0');
    // Every lease went back: no node's set holds one.
    const c = new Redis(redis.url);
    try {
      expect(await c.zcard('slots-test:slots:a')).toBe(0);
      expect(await c.zcard('slots-test:slots:b')).toBe(0);
    } finally {
      c.disconnect();
    }
  });

  test('each replica reports the replicas it sees and that it shares the state', async () => {
    // The heartbeat is every third of the lease TTL (3 s here).
    for (const f of r.factories) await eventually(() => f.getSharedState().replicas === 3, 5_000, 'three replicas seen');
    for (const f of r.factories) expect(f.getSharedState()).toMatchObject({ backend: 'redis', shared: true, replicas: 3 });
  });

  test('a replica that starts later starts warm: it knows what the others learned of the nodes', async () => {
    const learned = (f: PipelineFactory) =>
      Object.values(f.getPoolView().estimates)
        .flatMap((e) => Object.values(e.models))
        .filter((m) => m.generateTps > 0 && m.serviceMs > 0).length;
    expect(learned(r.factories[0])).toBeGreaterThan(0);
    // The others write what they learned at each renewal round (every second here).
    await new Promise((res) => setTimeout(res, 1_500));
    const late = await PipelineFactory.fromConfig(structuredClone(r.config)).start();
    try {
      // It has served nothing, and still has token rates and service times for the nodes.
      await eventually(() => learned(late) > 0, 5_000, 'learned figures on the new replica');
      expect(late.getPoolView().nodes.every((n) => n.totalRequests === 0)).toBe(true);
    } finally {
      await late.stop(1_000);
    }
  });

  test('what one replica learns later reaches the others at their next rounds, for the node and model they have not served', async () => {
    const own = await startRedis();
    const two = await startReplicas(2, [{ id: 'c', models: ['llama3.2', 'qwen3'], numParallel: 2, preload: ['llama3.2'] }], own.url, 'learned-later:');
    try {
      const [a, b] = two.factories;
      const rate = (f: PipelineFactory) => f.getPoolView().estimates.c?.models['qwen3:latest']?.generateTps ?? 0;
      // Both have joined; only then does A serve a model on the node.
      await eventually(() => a.getSharedState().replicas === 2 && b.getSharedState().replicas === 2, 10_000, 'both joined');
      expect(rate(b)).toBe(0);
      await a.getPipeline().submit(InferenceRequest.ofPrompt('qwen3', 'learn me', { options: { num_predict: 24 } }));
      expect(rate(a)).toBeGreaterThan(0);
      // B has served nothing of it, and knows its rate there within a few rounds (one a second here).
      await eventually(() => rate(b) > 0, 5_000, "B knows the model's rate on c");
      expect(b.getPoolView().nodes[0].totalRequests).toBe(0);
    } finally {
      await two.close();
      await own.stop();
    }
  });
});
