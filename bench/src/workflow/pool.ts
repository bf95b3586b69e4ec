/**
 * `bench:workflow`'s emulated pool, in UNSCALED units (as a real pool would have them); the sim and
 * balancer configs apply the time scale. Both models are hot on every node from the start and never
 * unloaded, so that what is measured is the scheduling of the graph, not model loads.
 */
import type { BalancerConfig } from '@ollama-ring/balancer';
import { defaultConfig } from '@ollama-ring/balancer';
import type { SimPoolConfig } from '@ollama-ring/ollama-sim';
import { balancerConfig } from '../scheduling/balancer-config';
import { TEMPLATE_TOKENS } from '../scheduling/pool';
import { type BenchTask, MODELS } from './graph';

/** Node id → slots (`numParallel`, and the balancer's `maxConcurrentRequests`): uneven on purpose. */
export const SLOTS: Readonly<Record<string, number>> = { 'node-a': 4, 'node-b': 4, 'node-c': 2 };
export const TOTAL_SLOTS = Object.values(SLOTS).reduce((a, b) => a + b, 0);
const TOKENS_PER_SEC = 25;
const PROMPT_TOKENS_PER_SEC = 1000;

/** Unscaled ms a task holds a slot: prefill of its short prompt (4 characters a token) and template, then generation. */
export function serviceMs(t: BenchTask): number {
  const prompt = Math.ceil(`step ${t.id}`.length / 4) + TEMPLATE_TOKENS.generate;
  return (prompt / PROMPT_TOKENS_PER_SEC + t.tokens / TOKENS_PER_SEC) * 1000;
}

export function simConfig(timeScale: number): SimPoolConfig {
  return {
    timeScale,
    seed: 7,
    models: MODELS.map((name) => ({ name, capabilities: ['completion'], loadMs: 3000, responseTokens: { min: 4000, max: 4000 } })),
    nodes: Object.entries(SLOTS).map(([id, numParallel]) => ({
      id,
      numParallel,
      maxLoadedModels: MODELS.length,
      keepAlive: -1,
      tokensPerSec: TOKENS_PER_SEC,
      promptTokensPerSec: PROMPT_TOKENS_PER_SEC,
      gpu: true,
      models: MODELS.map((name) => ({ name, loadMs: 3000 })),
      preload: [...MODELS],
    })),
  };
}

/** The balancer's defaults with simulated durations scaled (`scheduling/balancer-config.ts`), one balancer slot per sim slot. */
export function poolConfig(nodes: readonly { id: string; url: string }[], timeScale: number): BalancerConfig {
  return balancerConfig(defaultConfig().strategy.type, nodes, timeScale, { slots: SLOTS });
}
