/**
 * The simulated pool the scheduling bench replays its trace against, in UNSCALED units (ms and
 * tokens/s as a real pool would have them); `simPoolConfig` applies the time scale.
 *
 * Like `config/sim-pool.yaml`: a big GPU box, a mid GPU, a small GPU and a CPU box. Every GPU node
 * has (nearly) every model installed, so a strategy that ignores placement can send any model
 * anywhere and pays a cold load for it; `maxLoadedModels` is small (2, 2, 1, 1 for five models), so
 * where each model lives decides how many loads the run pays. The small GPU lacks the 12B model
 * (it does not fit) and the CPU box only has the two small models: a realistic subset.
 */
import type { SimModelConfig, SimNodeConfig, SimPoolConfig } from '@ollama-ring/ollama-sim';

export interface BenchModel {
  name: string;
  /** Load time at timeScale 1 on a GPU node (ms). */
  loadMs: number;
  /** Speed relative to the node's base token rates. */
  relativeSpeed: number;
}

/** Zipf rank order: index 0 is the most requested model. Loads are seconds: cold loads hurt. */
export const MODELS: readonly BenchModel[] = [
  { name: 'llama3.2:3b', loadMs: 3000, relativeSpeed: 1 },
  { name: 'qwen3:8b', loadMs: 4000, relativeSpeed: 0.6 },
  { name: 'mistral:7b', loadMs: 3500, relativeSpeed: 0.7 },
  { name: 'gemma3:12b', loadMs: 6000, relativeSpeed: 0.4 },
  { name: 'phi3:3.8b', loadMs: 3000, relativeSpeed: 0.9 },
];

export interface BenchNode {
  id: string;
  numParallel: number;
  maxLoadedModels: number;
  /** Base generated tokens/s per slot (the sim paces every slot at this rate). */
  tokensPerSec: number;
  promptTokensPerSec: number;
  /** Installed models (names from MODELS). */
  models: readonly string[];
  /** Multiplies each model's load time here (slower PCIe, or RAM on the CPU box). */
  loadFactor: number;
  gpu: boolean;
  preload: readonly string[];
}

export const NODES: readonly BenchNode[] = [
  {
    id: 'gpu-large',
    numParallel: 4,
    maxLoadedModels: 3,
    tokensPerSec: 40,
    promptTokensPerSec: 2000,
    models: MODELS.map((m) => m.name),
    loadFactor: 1,
    gpu: true,
    preload: ['llama3.2:3b'],
  },
  {
    id: 'gpu-mid',
    numParallel: 2,
    maxLoadedModels: 3,
    tokensPerSec: 25,
    promptTokensPerSec: 1200,
    models: MODELS.map((m) => m.name),
    loadFactor: 1.2,
    gpu: true,
    preload: [],
  },
  {
    id: 'gpu-small',
    numParallel: 2,
    maxLoadedModels: 2,
    tokensPerSec: 16,
    promptTokensPerSec: 800,
    models: ['llama3.2:3b', 'qwen3:8b', 'mistral:7b', 'phi3:3.8b'],
    loadFactor: 1.5,
    gpu: true,
    preload: [],
  },
  {
    id: 'cpu-box',
    numParallel: 1,
    maxLoadedModels: 1,
    tokensPerSec: 5,
    promptTokensPerSec: 100,
    models: ['llama3.2:3b', 'phi3:3.8b'],
    loadFactor: 2,
    gpu: false,
    preload: ['llama3.2:3b'],
  },
];

/**
 * The sim configuration at `timeScale`. Models never stop on their own before `num_predict`
 * (responseTokens far above it), so a request's output length is exactly what the trace says; no
 * model has the `thinking` capability, whose extra tokens would blur that.
 */
export function simPoolConfig(timeScale: number): SimPoolConfig {
  const catalog: SimModelConfig[] = MODELS.map((m) => ({
    name: m.name,
    capabilities: ['completion'],
    loadMs: m.loadMs,
    relativeSpeed: m.relativeSpeed,
    responseTokens: { min: 4000, max: 4000 },
  }));
  const nodes: SimNodeConfig[] = NODES.map((n) => ({
    id: n.id,
    numParallel: n.numParallel,
    maxLoadedModels: n.maxLoadedModels,
    keepAlive: '5m',
    tokensPerSec: n.tokensPerSec,
    promptTokensPerSec: n.promptTokensPerSec,
    gpu: n.gpu,
    defaultNumCtx: 4096,
    models: n.models.map((name) => ({ name, loadMs: Math.round(modelOf(name).loadMs * n.loadFactor) })),
    preload: [...n.preload],
  }));
  return { timeScale, seed: 7, models: catalog, nodes };
}

export function modelOf(name: string): BenchModel {
  const m = MODELS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown bench model ${name}`);
  return m;
}

/** Per-node service time and the pool's capacity estimate, in unscaled seconds and requests/s. */
export interface CapacityEstimate {
  rps: number;
  byNode: Record<string, { meanServiceSec: number; rps: number }>;
}

/**
 * The pool's capacity with every model hot: Σ over nodes of numParallel ÷ mean service time, where
 * a node's mean service time is its popularity-weighted mean over the models it has of
 * (mean prompt tokens ÷ prefill rate + mean output tokens ÷ generation rate), each rate scaled by
 * the model's relativeSpeed. With one model at relativeSpeed 1 and no prefill this is the familiar
 * Σ numParallel × tokensPerSec ÷ mean output tokens. Loads are left out on purpose: it is the
 * ceiling a perfect placement approaches, so "80%" is 80% of the best the hardware can do.
 */
export function estimateCapacity(popularity: readonly number[], meanPromptTokens: number, meanOutputTokens: number): CapacityEstimate {
  const byNode: CapacityEstimate['byNode'] = {};
  let rps = 0;
  for (const n of NODES) {
    let weight = 0;
    let invSpeed = 0;
    MODELS.forEach((m, i) => {
      if (!n.models.includes(m.name)) return;
      weight += popularity[i];
      invSpeed += popularity[i] / m.relativeSpeed;
    });
    const perUnitSpeed = meanPromptTokens / n.promptTokensPerSec + meanOutputTokens / n.tokensPerSec;
    const meanServiceSec = (perUnitSpeed * invSpeed) / weight;
    const nodeRps = n.numParallel / meanServiceSec;
    byNode[n.id] = { meanServiceSec, rps: nodeRps };
    rps += nodeRps;
  }
  return { rps, byNode };
}
