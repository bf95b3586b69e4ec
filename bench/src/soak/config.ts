/**
 * The pool and balancer config of the soak and chaos runs: short timeouts everywhere, so that a
 * hung or slow node holds a request for seconds, not for the defaults' minutes (a hung node holding
 * requests until the 60 s/120 s defaults is a known defect being fixed on another branch), and the
 * bound on any client's wait is known (see `clientBoundMs`). The first-byte and idle timeouts (3 s)
 * are still far above any gap between tokens here, even on a loaded 2-core machine.
 */
import { defaultConfig, type BalancerConfig } from '@ollama-ring/balancer';
import type { SimNodeConfig, SimPoolConfig } from '@ollama-ring/ollama-sim';

/** The emulated pool: three nodes of different sizes and speeds, every model on every node. */
export function soakPool(timeScale = 0.05): SimPoolConfig {
  const nodes: SimNodeConfig[] = [
    { id: 'big', numParallel: 4, tokensPerSec: 400, promptTokensPerSec: 20_000, models: ['llama3.2', 'nomic-embed-text'], preload: ['llama3.2'] },
    { id: 'mid', numParallel: 2, tokensPerSec: 250, promptTokensPerSec: 10_000, models: ['llama3.2', 'nomic-embed-text'], preload: ['llama3.2'] },
    { id: 'small', numParallel: 1, tokensPerSec: 150, promptTokensPerSec: 5_000, models: ['llama3.2', 'nomic-embed-text'] },
  ];
  return {
    timeScale,
    seed: 7,
    models: [
      { name: 'llama3.2', loadMs: 1_000 },
      { name: 'nomic-embed-text', loadMs: 200, capabilities: ['embedding'], embeddingLength: 16 },
    ],
    nodes,
  };
}

/** The balancer over `nodes` (id, url, slots), with the chaos run's short timeouts. */
export function soakConfig(nodes: readonly { id: string; url: string; slots: number }[]): BalancerConfig {
  const c = defaultConfig();
  c.nodes = nodes.map((n) => ({ id: n.id, url: n.url, models: [], maxConcurrentRequests: n.slots, weight: 1, enabled: true, tags: [], priority: 0 }));
  c.strategy = { type: 'least-in-flight' };
  c.timeouts = { ...c.timeouts, requestTimeoutMs: 8_000, connectTimeoutMs: 1_000, healthCheckTimeoutMs: 1_000, firstByteTimeoutMs: 3_000, idleTimeoutMs: 3_000 };
  c.queue = { ...c.queue, maxDepth: 400, maxWaitMs: 4_000 };
  c.retry = { maxRetries: 2, initialBackoffMs: 20, maxBackoffMs: 200, backoffMultiplier: 2 };
  c.healthCheck = { ...c.healthCheck, intervalMs: 1_000, discoveryIntervalMs: 5_000, circuitBreakerFailureThreshold: 5, circuitBreakerRecoveryMs: 1_000 };
  c.disruptor.maxGlobalInFlight = 600;
  return c;
}

/**
 * The longest any client may wait. `requestTimeoutMs` runs from the request's arrival across all
 * its attempts, but every attempt gets at least 1 s (dispatch-starter.ts), and a request waits in
 * the queue at most `maxWaitMs` in all; then slack for a loaded 2-core machine.
 */
export function clientBoundMs(c: BalancerConfig): number {
  const lastAttempts = c.retry.maxRetries * (1_000 + c.retry.maxBackoffMs);
  return Math.max(c.queue.maxWaitMs, c.timeouts.requestTimeoutMs) + lastAttempts + 10_000;
}
