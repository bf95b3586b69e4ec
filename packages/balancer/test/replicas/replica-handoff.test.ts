import Redis from 'ioredis';
import { InferenceRequest } from '../../src';
import { eventually } from '../e2e/harness';
import { startRedis, type RedisServer } from '../redis-server';
import { startReplicas, type Replicas } from './replicas-harness';

const ask = (r: Replicas, i: number, prompt: string, tokens: number) =>
  r.factories[i].getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', prompt, { options: { num_predict: tokens } }));

/**
 * Three replicas before one node of one slot: while it is held, requests arrive on the replicas in
 * a known order. Each release hands the slot to the oldest contender among the replicas (the
 * handoff), so they are served in the order they arrived, not in the order their replicas happened
 * to ask (the replica that freed the slot would win every race).
 */
describe('replicas hand a freed slot to the oldest waiter across replicas', () => {
  let redis: RedisServer;
  let r: Replicas;
  beforeAll(async () => {
    redis = await startRedis();
    r = await startReplicas(3, [{ id: 'a', models: ['llama3.2'], numParallel: 1, tokensPerSec: 40 }], redis.url, 'handoff-test:', () => undefined, { timeScale: 1 });
  }, 30_000);
  afterAll(async () => {
    await r?.close();
    await redis?.stop();
  });

  test('requests waiting on different replicas are served in arrival order, each once, and every lease goes back', async () => {
    // The model is loaded first, so every later request takes about the same short time.
    expect((await ask(r, 0, 'warm', 1)).body.done).toBe(true);
    const served: number[] = [];
    // The slot is held for ~1.5 s by a request of replica 0.
    const holder = ask(r, 0, 'holder', 60);
    await new Promise((res) => setTimeout(res, 200));
    // Then requests 1..6 arrive on replicas 1, 2, 0, 1, 2, 0, 150 ms apart: replica 0, which frees
    // the slot, has its own waiters from the third on.
    const on = [1, 2, 0, 1, 2, 0];
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < on.length; i++) {
      waiting.push(
        ask(r, on[i], `waiter ${i + 1}`, 6).then((a) => {
          expect(a.body.done).toBe(true);
          served.push(i + 1);
        }),
      );
      await new Promise((res) => setTimeout(res, 150));
    }
    expect((await holder).body.done).toBe(true);
    await Promise.all(waiting);
    expect(served).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.peaks().a).toBe(1);
    for (const f of r.factories) await eventually(() => f.getPoolView().nodes.every((n) => n.inFlight === 0), 5_000, 'in-flight back to 0');
    const c = new Redis(redis.url);
    try {
      expect(await c.zcard('handoff-test:slots:a')).toBe(0);
      // No waiter is left anywhere: every replica withdrew its contender entry.
      expect(await c.zcard('handoff-test:want:a')).toBe(0);
    } finally {
      c.disconnect();
    }
  }, 60_000);
});
