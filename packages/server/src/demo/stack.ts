/** The demo's moving parts in one process: a simulated pool, the balancer, and the gateway. */
import { type BalancerConfig, PipelineFactory, resolveConfig, type SchedulerObserver } from '@ollama-ring/balancer';
import type { SimPool, SimPoolConfig } from '@ollama-ring/ollama-sim';
import { simPackage } from '../commands/optional-deps';
import { Gateway } from '../gateway';
import { allRoutes } from '../http/routes';
import { silentLogger } from '../logging';

export interface DemoStack {
  sim: SimPool;
  factory: PipelineFactory;
  gateway: Gateway;
  config: BalancerConfig;
  /** The gateway's base URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * The balancer config for a sim pool, as an operator would write it for those machines: each node's
 * slots are OLLAMA_NUM_PARALLEL per model it can hold at once, capped per model at NUM_PARALLEL (so
 * the balancer, not Ollama, holds the surplus); health and discovery every 2 s so the live view
 * sees loads and evictions promptly; a node whose sim config has an exporter gets it as its
 * `metricsUrl`.
 */
export function balancerConfigFor(simCfg: SimPoolConfig, sim: SimPool): BalancerConfig {
  const nodes = sim.nodes.map((n, i) => {
    const spec = simCfg.nodes[i];
    const parallel = spec.numParallel ?? 1;
    const models = spec.models.map((m) => (typeof m === 'string' ? m : m.name));
    return {
      id: n.id,
      url: n.url,
      models,
      maxConcurrentRequests: parallel * Math.min(spec.maxLoadedModels ?? 3, models.length),
      maxConcurrentPerModel: Object.fromEntries(models.map((m) => [m, parallel])),
      ...(spec.exporter && { metricsUrl: `${n.url}/metrics` }),
    };
  });
  return resolveConfig({
    nodes,
    healthCheck: { intervalMs: 2_000 },
    retry: { maxRetries: 3, initialBackoffMs: 20, maxBackoffMs: 500 },
    queue: { maxWaitMs: 30_000 },
  }).config;
}

export async function startDemoStack(simCfg: SimPoolConfig, observer?: SchedulerObserver): Promise<DemoStack> {
  const sim = await simPackage().startSimPool(simCfg, { log: () => undefined });
  let factory: PipelineFactory | undefined;
  try {
    const config = balancerConfigFor(simCfg, sim);
    factory = await PipelineFactory.fromConfig(config, { observer }).start();
    // The gateway logs nothing here: the live view owns the terminal.
    // Every route, so `ollama-ring status --url …` and curl work against the demo while it runs.
    const gateway = new Gateway({ factory, logger: silentLogger(), routes: allRoutes });
    const addr = await gateway.listen(0, '127.0.0.1');
    let closing: Promise<void> | undefined;
    return {
      sim,
      factory,
      gateway,
      config,
      url: `http://127.0.0.1:${addr.port}`,
      close() {
        closing ??= gateway.close(2_000).finally(() => sim.close());
        return closing;
      },
    };
  } catch (e) {
    await factory?.stop(0);
    await sim.close();
    throw e;
  }
}
