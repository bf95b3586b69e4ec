import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import type { PipelineFactory } from '@ollama-ring/balancer';
import { InferenceRequest } from '../../src';
import { eventually } from '../e2e/harness';
import { startRedis, type RedisServer } from '../redis-server';
import { startReplicas, type Replicas } from './replicas-harness';

const DIST = resolve(__dirname, '..', '..', 'dist', 'index.js');

/** What replica `f` knows of other replicas' requests on `nodeId`'s slots. */
function remoteHolders(f: PipelineFactory, nodeId: string): number {
  return f.getPoolView().nodes.find((n) => n.id === nodeId)?.remoteHolders ?? 0;
}

/** Replica `f`'s `replica_remote_holders` gauge (the pool's other-replica holders at its last renewal round). */
async function remoteHoldersGauge(f: PipelineFactory): Promise<number> {
  const line = (await f.getMetricsRegistry().scrape()).split('\n').find((l) => /^\w*replica_remote_holders /.test(l));
  return Number(line?.split(' ')[1]);
}

function loadedOn(f: PipelineFactory, nodeId: string): string[] {
  return (f.getPoolView().nodes.find((n) => n.id === nodeId)?.loadedModels ?? []).map((l) => l.model);
}

/**
 * Replicas place requests on what all of them hold: each slot lease carries what its request is,
 * so a replica weighs the others' requests, and learns the models they load, as its own.
 */
describe('replicas see each other’s slot holders', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('a replica waits for the hot node another replica’s short request is about to free, rather than loading the model on a cold node', async () => {
    const r: Replicas = await startReplicas(
      2,
      [
        // Every answer is 150 tokens long: 3 s at the emulator's 50 tokens/s (time not scaled here).
        { id: 'hot', models: ['llama3.2'], numParallel: 1, preload: ['llama3.2'], responseTokens: { min: 150, max: 150 } },
        { id: 'cold', models: ['llama3.2'], numParallel: 1, responseTokens: { min: 150, max: 150 } },
      ],
      redis.url,
      'placement-wait:',
      (c) => {
        c.strategy.type = 'predictive';
        // Priors the replicas start from: a load costs 8 s, and a request of unknown length 30 s, so
        // a full node whose holder is unknown looks far worse than a load, while A's request (150
        // tokens at 50/s) frees its slot within 3 s.
        c.estimates = { loadMs: 8_000, prefillTokensPerSec: 500, generateTokensPerSec: 50, serviceMs: 30_000 };
        c.healthCheck.discoveryIntervalMs = 600_000;
      },
      { timeScale: 1 },
    );
    try {
      const [a, b] = r.factories;
      const first = a.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'first', { options: { num_predict: 150 } }));
      // B hears of A's request on the hot node (its announcement), not at a renewal round.
      await eventually(() => remoteHolders(b, 'hot') === 1, 2_500, 'B knows A holds the hot node');
      const second = await b.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'second', { options: { num_predict: 150 } }));
      expect(second.body.done).toBe(true);
      expect((await first).body.done).toBe(true);
      const loads = Object.fromEntries(r.sim.state().map((s) => [s.id, s.loadsStarted]));
      // B waited for the hot node: no load anywhere.
      expect(loads).toEqual({ hot: 0, cold: 0 });
      expect(b.getPoolView().nodes.find((n) => n.id === 'hot')?.totalRequests).toBe(1);
      await eventually(() => remoteHolders(b, 'hot') === 0 && remoteHolders(a, 'hot') === 0, 5_000, 'holders gone with their leases');
    } finally {
      await r.close();
    }
  });

  test('a replica learns the model another replica loaded on a node, and what that evicted, before any discovery', async () => {
    const r: Replicas = await startReplicas(
      2,
      [{ id: 'n', models: ['llama3.2', 'qwen3'], numParallel: 2, maxLoadedModels: 1, preload: ['llama3.2'] }],
      redis.url,
      'placement-resident:',
      (c) => {
        c.nodes[0].maxLoadedModels = 1;
        // Discovery (`/api/ps`) only at start: what B knows later comes from A's leases.
        c.healthCheck.discoveryIntervalMs = 600_000;
      },
    );
    try {
      const [a, b] = r.factories;
      expect(loadedOn(b, 'n')).toEqual(['llama3.2:latest']);
      const answer = await a.getPipeline().submit(InferenceRequest.ofPrompt('qwen3', 'load me', { options: { num_predict: 16 } }));
      expect(answer.body.done).toBe(true);
      expect(r.sim.node('n').state().loadsStarted).toBe(1);
      // qwen3 is resident on n for B too, and llama3.2 evicted, as Ollama did.
      await eventually(() => loadedOn(b, 'n').join() === 'qwen3:latest', 3_000, 'B sees qwen3 loaded on n');
      // So B sends llama3.2 there as the cold load it is, and then knows llama3.2 is back.
      const back = await b.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'and back', { options: { num_predict: 16 } }));
      expect(back.body.done).toBe(true);
      expect(r.sim.node('n').state().loadsStarted).toBe(2);
      await eventually(() => loadedOn(a, 'n').join() === 'llama3.2:latest', 3_000, 'A sees llama3.2 loaded on n');
    } finally {
      await r.close();
    }
  });

  test('the holders of a stopped replica and of a SIGKILLed one go away with their leases', async () => {
    const r: Replicas = await startReplicas(
      2,
      [{ id: 'n', models: ['llama3.2'], numParallel: 4, preload: ['llama3.2'], responseTokens: { min: 1_000, max: 1_000 } }],
      redis.url,
      'placement-gone:',
      (c) => {
        c.healthCheck.discoveryIntervalMs = 600_000;
      },
      // Time not scaled: a request of 1,000 tokens runs 20 s, past everything this test does.
      { timeScale: 1 },
    );
    let child: ChildProcess | undefined;
    const c = new Redis(redis.url);
    try {
      const [a, b] = r.factories;
      // A stops with a request running: its holder goes with the lease it gives back.
      const running = a.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'long', { options: { num_predict: 1_000 } }));
      running.catch(() => undefined);
      await eventually(() => remoteHolders(b, 'n') === 1, 3_000, 'B knows of A’s request');
      await a.stop(100);
      await eventually(() => remoteHolders(b, 'n') === 0, 3_000, 'A’s holder gone when A stopped');

      // A replica in another process, SIGKILLed with a request running: nobody gives its lease back.
      const config = {
        nodes: [{ id: 'n', url: r.sim.node('n').url, maxConcurrentRequests: 4 }],
        state: { backend: 'redis', redis: { url: redis.url, keyPrefix: 'placement-gone:', leaseTtlMs: 3_000 } },
      };
      child = spawn(process.execPath, ['-e', KILLED], { env: { ...process.env, RING_DIST: DIST, RING_CONFIG: JSON.stringify(config) }, stdio: 'ignore' });
      await eventually(() => remoteHolders(b, 'n') === 1, 10_000, 'B knows of the child’s request');
      expect(await c.hlen('placement-gone:holders:n')).toBe(1);
      await eventuallyAsync(async () => (await remoteHoldersGauge(b)) === 1, 5_000, 'the gauge counts it at a renewal round');
      child.kill('SIGKILL');
      // Its lease expires within the TTL (3 s); the renewal round after that drops it and its holder.
      await eventually(() => remoteHolders(b, 'n') === 0, 10_000, 'the killed replica’s holder gone with its lease');
      expect(await c.hlen('placement-gone:holders:n')).toBe(0);
      expect(await c.zcard('placement-gone:slots:n')).toBe(0);
      expect(await remoteHoldersGauge(b)).toBe(0);
    } finally {
      child?.kill('SIGKILL');
      c.disconnect();
      await r.close();
    }
  });

  test('with Redis out, the other replicas’ holders are kept until they are expected to end, and Redis’s lists replace them once it is back', async () => {
    const own = await startRedis();
    const r: Replicas = await startReplicas(
      2,
      [{ id: 'n', models: ['llama3.2'], numParallel: 4, preload: ['llama3.2'], responseTokens: { min: 1_000, max: 1_000 } }],
      own.url,
      'placement-out:',
      (c) => {
        c.healthCheck.discoveryIntervalMs = 600_000;
      },
      { timeScale: 1 },
    );
    try {
      const [a, b] = r.factories;
      const running = a.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'long', { options: { num_predict: 1_000 } }));
      running.catch(() => undefined);
      await eventually(() => remoteHolders(b, 'n') === 1, 3_000, 'B knows of A’s request');
      await own.stop();
      await eventually(() => !b.getSharedState().shared, 5_000, 'B on its local share');
      // A's request runs on (20 s of output): B still counts it.
      await new Promise((res) => setTimeout(res, 500));
      expect(remoteHolders(b, 'n')).toBe(1);
      await own.restart();
      // Both write their leases and holders back on rejoining; B's next renewal round lists A's.
      await eventually(() => b.getSharedState().shared && remoteHolders(b, 'n') === 1, 15_000, 'A’s holder known again');
      await a.stop(100);
      await eventually(() => remoteHolders(b, 'n') === 0, 5_000, 'gone with its lease when A stopped');
    } finally {
      await r.close();
      await own.stop();
    }
  });

  test('with Redis out, a replica leaves a node alone while the others’ requests there fill it, even beyond their shares', async () => {
    const own = await startRedis();
    // 2 slots, 2 replicas: a share of 1 each out of Redis. A holds both slots when Redis goes.
    const r: Replicas = await startReplicas(2, [{ id: 'n', models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'] }], own.url, 'placement-share:', undefined, {
      timeScale: 1,
    });
    try {
      const [a, b] = r.factories;
      // B learns the node's token rate first, so it expects A's requests to end when they do.
      await b.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'warm', { options: { num_predict: 20 } }));
      const long = [1, 2].map((i) => a.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', `long ${i}`, { options: { num_predict: 100 } })));
      await eventually(() => remoteHolders(b, 'n') === 2, 3_000, 'B knows of both of A’s requests');
      await own.stop();
      await eventually(() => !b.getSharedState().shared, 5_000, 'B on its local share');
      const started = Date.now();
      const mine = await b.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'mine', { options: { num_predict: 5 } }));
      expect(mine.body.done).toBe(true);
      await Promise.all(long);
      // Never 3 on a node of 2: B waited for A's requests (about 2 s of output) rather than take its share at once.
      expect(r.peaks().n).toBe(2);
      expect(Date.now() - started).toBeGreaterThan(1_000);
    } finally {
      await r.close();
      await own.stop();
    }
  }, 30_000);
});

async function eventuallyAsync(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A replica in its own process that sends one long request and waits (to be killed). */
const KILLED = `
const { PipelineFactory, InferenceRequest } = require(process.env.RING_DIST);
(async () => {
  const f = await PipelineFactory.create(JSON.parse(process.env.RING_CONFIG)).start();
  await f.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'runs 20 s', { options: { num_predict: 1000 } }));
})().catch(() => undefined);
setInterval(() => undefined, 1000);
`;
