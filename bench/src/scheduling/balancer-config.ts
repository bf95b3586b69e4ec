/**
 * The balancer's config for a run: the library defaults, with every duration that stands for
 * simulated work multiplied by the time scale, and every rate divided by it, so that the balancer
 * behaves against the compressed pool as it would with its defaults against the real one.
 *
 * Units: the sim scales all its durations, including the ones its final chunks report
 * (`load_duration`, `prompt_eval_duration`, `eval_duration` are wall-clock ns of the scaled run),
 * and the balancer measures wall time itself. So what it learns is consistently in wall ms; only
 * its priors and configured durations need the same scale.
 *
 * Left unscaled on purpose: the connect and health-check timeouts (loopback network round trips are
 * not simulated work, and scaling them to a few ms would make a busy CI box mark nodes down).
 */
import { defaultConfig, type BalancerConfig } from '@ollama-ring/balancer';
import { NODES } from './pool';

export function balancerConfig(
  strategy: string,
  nodes: readonly { id: string; url: string }[],
  timeScale: number,
  /** `slots`: each node's `numParallel`, for a pool other than this bench's (bench:batch's); default NODES'. */
  opts: { discoveryMs?: number; slots?: Readonly<Record<string, number>> } = {},
): BalancerConfig {
  const c = defaultConfig();
  const s = (ms: number): number => Math.max(1, Math.round(ms * timeScale));
  c.strategy = { type: strategy };
  c.nodes = nodes.map((n) => {
    const numParallel = opts.slots?.[n.id] ?? NODES.find((x) => x.id === n.id)?.numParallel;
    if (numParallel === undefined) throw new Error(`no bench node ${n.id}`);
    // One balancer slot per sim slot: the operator sets maxConcurrentRequests to OLLAMA_NUM_PARALLEL.
    return { id: n.id, url: n.url, models: [], maxConcurrentRequests: numParallel, weight: numParallel, enabled: true, tags: [], priority: 0 };
  });
  c.queue = { ...c.queue, maxWaitMs: s(c.queue.maxWaitMs) };
  c.timeouts = {
    ...c.timeouts,
    requestTimeoutMs: s(c.timeouts.requestTimeoutMs),
    firstByteTimeoutMs: s(c.timeouts.firstByteTimeoutMs),
    idleTimeoutMs: s(c.timeouts.idleTimeoutMs),
  };
  c.retry = {
    ...c.retry,
    initialBackoffMs: s(c.retry.initialBackoffMs),
    maxBackoffMs: s(c.retry.maxBackoffMs),
  };
  const discovery = opts.discoveryMs ?? c.healthCheck.intervalMs;
  c.healthCheck = {
    ...c.healthCheck,
    intervalMs: s(c.healthCheck.intervalMs),
    // defaultConfig leaves this as a placeholder the file loader fills from intervalMs.
    discoveryIntervalMs: s(discovery),
    circuitBreakerRecoveryMs: s(c.healthCheck.circuitBreakerRecoveryMs),
  };
  c.estimates = {
    loadMs: s(c.estimates.loadMs),
    serviceMs: s(c.estimates.serviceMs),
    prefillTokensPerSec: c.estimates.prefillTokensPerSec / timeScale,
    generateTokensPerSec: c.estimates.generateTokensPerSec / timeScale,
  };
  c.logging = { ...c.logging, level: 'warn' };
  return c;
}
