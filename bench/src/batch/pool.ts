/**
 * The emulated pools of `bench:batch`'s chat scenarios, in UNSCALED units (as a real pool would
 * have them); `simConfig` applies the time scale. One chat model, hot on every node from the
 * start and never unloaded, so that what is measured is the sharing of slots, not model loads.
 */
import { defaultConfig, type BalancerConfig } from '@ollama-ring/balancer';
import type { SimPoolConfig } from '@ollama-ring/ollama-sim';
import { TEMPLATE_TOKENS } from '../scheduling/pool';
import { balancerConfig } from '../scheduling/balancer-config';

export const CHAT_MODEL = 'llama3.2:3b';

/** Every request of these scenarios: one chat message of this many tokens, answered with this many. */
export const PROMPT_TOKENS = 200;
export const OUTPUT_TOKENS = 32;
/** Every node's rates (one model, so one speed). */
const PROMPT_TOKENS_PER_SEC = 1000;
const TOKENS_PER_SEC = 25;

export interface PoolSpec {
  name: string;
  /** Node id → slots (`numParallel`, and the balancer's `maxConcurrentRequests`). */
  slots: Readonly<Record<string, number>>;
}

/**
 * Batch against interactive: two nodes of four slots. Enough slots that a batch can fill a pool
 * the way a real one would, few enough that 2,000 lines take tens of seconds at timeScale 0.1.
 */
export const MIXED_POOL: PoolSpec = { name: 'two nodes, 4 slots each', slots: { 'node-a': 4, 'node-b': 4 } };

/**
 * Fairness: one node of two slots. Small on purpose: the light key's own load must make it wait
 * now and then when it is alone, or its p99 wait alone is 0 and no ratio to it means anything.
 */
export const FAIR_POOL: PoolSpec = { name: 'one node, 2 slots', slots: { 'node-a': 2 } };

/** The prompt text: the sim counts 4 characters a token. */
export const PROMPT = 'word '.repeat((PROMPT_TOKENS * 4) / 5).trim();

/** Unscaled ms a hot request holds a slot: prefill (with the chat template's tokens) plus generation. */
export function serviceMs(): number {
  return ((PROMPT_TOKENS + TEMPLATE_TOKENS.chat) / PROMPT_TOKENS_PER_SEC + OUTPUT_TOKENS / TOKENS_PER_SEC) * 1000;
}

/** The pool's capacity in unscaled requests per second: every slot busy, back to back. */
export function capacityRps(pool: PoolSpec): number {
  const slots = Object.values(pool.slots).reduce((a, b) => a + b, 0);
  return slots / (serviceMs() / 1000);
}

export function totalSlots(pool: PoolSpec): number {
  return Object.values(pool.slots).reduce((a, b) => a + b, 0);
}

/** The sim's config at `timeScale`: answers never stop before `num_predict`, so every request costs the same. */
export function simConfig(pool: PoolSpec, timeScale: number): SimPoolConfig {
  return {
    timeScale,
    seed: 11,
    models: [{ name: CHAT_MODEL, capabilities: ['completion'], loadMs: 3000, responseTokens: { min: 4000, max: 4000 } }],
    nodes: Object.entries(pool.slots).map(([id, numParallel]) => ({
      id,
      numParallel,
      maxLoadedModels: 1,
      keepAlive: -1,
      tokensPerSec: TOKENS_PER_SEC,
      promptTokensPerSec: PROMPT_TOKENS_PER_SEC,
      gpu: true,
      defaultNumCtx: 4096,
      models: [{ name: CHAT_MODEL, loadMs: 3000 }],
      preload: [CHAT_MODEL],
    })),
  };
}

/**
 * The balancer's config: its defaults (default strategy included), durations scaled as the
 * scheduling bench scales them (`scheduling/balancer-config.ts`), one balancer slot per sim slot.
 */
export function poolBalancerConfig(pool: PoolSpec, nodes: readonly { id: string; url: string }[], timeScale: number): BalancerConfig {
  return balancerConfig(defaultConfig().strategy.type, nodes, timeScale, { slots: pool.slots });
}
