import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimPool, type SimPool, type SimNodeConfig } from '@ollama-ring/ollama-sim';
import { PipelineFactory, defaultConfig, type BalancerConfig, type FactoryOptions } from '@ollama-ring/balancer';

export interface Harness {
  sim: SimPool;
  factory: PipelineFactory;
  config: BalancerConfig;
  close(): Promise<void>;
}

/** A simulated pool and a balancer in front of it; `tweak` adjusts the balancer config. */
export async function startHarness(
  nodes: SimNodeConfig[],
  tweak: (c: BalancerConfig) => void = () => undefined,
  opts: { timeScale?: number; factory?: FactoryOptions } = {},
): Promise<Harness> {
  const sim = await startSimPool({
    timeScale: opts.timeScale ?? 0.02,
    models: [
      { name: 'llama3.2', loadMs: 2000 },
      { name: 'qwen3', loadMs: 3000 },
      { name: 'nomic-embed-text', loadMs: 400, capabilities: ['embedding'], embeddingLength: 8 },
    ],
    nodes,
  });
  const config = defaultConfig();
  config.nodes = sim.nodes.map((n, i) => ({
    id: n.id,
    url: n.url,
    models: [],
    maxConcurrentRequests: nodes[i].numParallel ?? 1,
    weight: 1,
    enabled: true,
    tags: [],
    priority: 0,
  }));
  config.retry = { maxRetries: 3, initialBackoffMs: 5, maxBackoffMs: 50, backoffMultiplier: 2 };
  // A batch data directory of its own: a gateway over this harness takes its lock, and tests run side by side.
  const dataDir = mkdtempSync(join(tmpdir(), 'ollama-ring-harness-'));
  config.batch.dataDir = dataDir;
  tweak(config);
  const factory = await PipelineFactory.fromConfig(config, opts.factory).start();
  return {
    sim,
    factory,
    config,
    async close() {
      await factory.stop(5_000);
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every node's in-flight count as the balancer sees it. */
export function inFlight(h: Harness): Record<string, number> {
  return Object.fromEntries(
    h.factory
      .getNodeRegistry()
      .getAllNodes()
      .map((n) => [n.id, n.inFlight]),
  );
}

/** Waits until `cond` holds, polling (every 5 ms; an async one, a query, every 50 ms); throws after `ms`. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const held = cond();
    if (typeof held === 'boolean' ? held : await held) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, typeof held === 'boolean' ? 5 : 50));
  }
}
