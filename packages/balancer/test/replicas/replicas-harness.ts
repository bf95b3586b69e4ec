import { startSimPool, type SimNodeConfig, type SimPool } from '@ollama-ring/ollama-sim';
import { PipelineFactory, type BalancerConfig } from '@ollama-ring/balancer';
import { startHarness } from '../e2e/harness';

/** One simulated pool and several balancers (replicas) in front of it, sharing its state through Redis. */
export interface Replicas {
  sim: SimPool;
  factories: PipelineFactory[];
  config: BalancerConfig;
  /** Every node's highest count of inference requests in flight at once, as the emulator saw them. */
  peaks(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * `count` PipelineFactory replicas over one emulated pool, on the Redis at `redisUrl` with
 * `keyPrefix` (a prefix per test keeps tests apart on one server).
 */
export async function startReplicas(
  count: number,
  nodes: SimNodeConfig[],
  redisUrl: string,
  keyPrefix: string,
  tweak: (c: BalancerConfig) => void = () => undefined,
  opts: { timeScale?: number } = {},
): Promise<Replicas> {
  // The first replica's harness starts the pool; the others get the same config.
  const first = await startHarness(
    nodes,
    (c) => {
      c.state.backend = 'redis';
      c.state.redis.url = redisUrl;
      c.state.redis.keyPrefix = keyPrefix;
      // Renewal rounds (and heartbeats) every second, so replicas see each other soon.
      c.state.redis.leaseTtlMs = 3_000;
      tweak(c);
    },
    opts,
  );
  const factories = [first.factory];
  for (let i = 1; i < count; i++) factories.push(await PipelineFactory.fromConfig(structuredClone(first.config)).start());
  return {
    sim: first.sim,
    factories,
    config: first.config,
    peaks: () => Object.fromEntries(first.sim.state().map((s) => [s.id, s.peakInferenceInFlight])),
    async close() {
      await Promise.all(factories.map((f) => f.stop(5_000)));
      await first.sim.close();
    },
  };
}

export { startSimPool };
