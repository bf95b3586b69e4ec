/**
 * What the demo's users ask for. Popularity is skewed the way a shared team pool is: one small
 * chat model takes most traffic, a couple of mid-size models some, a big one rarely, plus
 * embeddings. A few requests set a larger num_ctx, which in Ollama forces a reload of the model
 * (a different options signature), so the balancer has to weigh "hot" per (model, options).
 */
import { type Rng, pick, pickWeighted } from './random';

export type RequestKind = 'chat' | 'generate' | 'embed';

export interface RequestSpec {
  kind: RequestKind;
  model: string;
  stream: boolean;
  /** Set on the few requests that ask for a non-default context size. */
  numCtx?: number;
  prompt: string;
}

interface MixEntry {
  weight: number;
  kind: RequestKind;
  model: string;
  numCtx?: number;
}

const MIX: readonly MixEntry[] = [
  { weight: 40, kind: 'chat', model: 'llama3.2:3b' },
  { weight: 16, kind: 'chat', model: 'qwen3:8b' },
  { weight: 14, kind: 'embed', model: 'nomic-embed-text' },
  { weight: 10, kind: 'generate', model: 'mistral:7b' },
  { weight: 6, kind: 'generate', model: 'qwen3:8b' },
  { weight: 6, kind: 'chat', model: 'gemma3:12b' },
  { weight: 4, kind: 'chat', model: 'llama3.2:3b', numCtx: 8192 },
  { weight: 4, kind: 'generate', model: 'llama3.2:3b' },
];

/** The burst in the middle: everyone asks the popular chat models at once. */
export const BURST_MIX: readonly MixEntry[] = [
  { weight: 3, kind: 'chat', model: 'llama3.2:3b' },
  { weight: 1, kind: 'chat', model: 'qwen3:8b' },
];

const PROMPTS = [
  'Why is the sky blue?',
  'Summarise the plot of Hamlet in three sentences.',
  'Write a haiku about load balancers.',
  'Explain what a ring buffer is to a new engineer.',
  'What is the difference between TCP and UDP?',
  'Give me three names for a pet octopus.',
  'Translate "good morning" into French, German and Japanese.',
  'List the planets of the solar system in order.',
  'How do I reverse a linked list in place?',
  'What does HTTP status 503 mean, and when should a client retry?',
];

export function nextRequest(rng: Rng, mix: readonly MixEntry[] = MIX): RequestSpec {
  const e = pickWeighted(rng, mix);
  return {
    kind: e.kind,
    model: e.model,
    // Most interactive traffic streams; batch-style callers do not.
    stream: e.kind !== 'embed' && rng() < 0.65,
    numCtx: e.numCtx,
    prompt: pick(rng, PROMPTS),
  };
}
