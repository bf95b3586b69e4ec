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

function modelOf(name: string): BenchModel {
  const m = MODELS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown bench model ${name}`);
  return m;
}

/**
 * Prompt tokens the sim adds for the template (packages/ollama-sim/src/routes/prepare.ts): 6 on
 * /api/generate, 4 per message on /api/chat (the trace sends one). The trace's prompts are counted
 * exactly (4 characters a token), so a request's prefill covers its tokens plus these.
 */
export const TEMPLATE_TOKENS = { generate: 6, chat: 4 } as const;

/** The mean template overhead of the trace's mix of routes (`chatShare` of them chat). */
export function meanTemplateTokens(chatShare: number): number {
  return chatShare * TEMPLATE_TOKENS.chat + (1 - chatShare) * TEMPLATE_TOKENS.generate;
}

/**
 * Nominal time (unscaled ms) one hot request holds a slot on `nodeId`: prefill at the node's prompt
 * rate plus generation at its token rate, both scaled by the model's relativeSpeed, as the sim paces
 * them (its config.ts: a model's rates are the node's × relativeSpeed).
 */
export function nominalServiceMs(nodeId: string, model: string, promptTokens: number, outputTokens: number): number {
  const n = NODES.find((x) => x.id === nodeId);
  if (!n) throw new Error(`no bench node ${nodeId}`);
  const r = modelOf(model).relativeSpeed;
  return (promptTokens / (n.promptTokensPerSec * r) + outputTokens / (n.tokensPerSec * r)) * 1000;
}

/** Per-node service time and the pool's capacity estimate, in unscaled seconds and requests/s. */
export interface CapacityEstimate {
  rps: number;
  /**
   * Per node: its mean hot service time at the pool's model mix, and the requests/s its slots give at
   * that mix (their sum is `rps` unless `bottleneck` names a set of models that caps it).
   */
  byNode: Record<string, { meanServiceSec: number; rps: number }>;
  /** The set of models whose installed nodes cap the pool, when it is not all of them. */
  bottleneck?: string[];
}

/**
 * The pool's capacity with every model hot: the highest arrival rate λ of the trace's model mix that
 * the slots can serve, from first principles.
 *
 * Slots: the balancer sends a node at most `maxConcurrentRequests`, which balancer-config.ts sets to
 * the node's `numParallel`. The sim (like Ollama) gives every loaded model its own `numParallel`
 * slots, so the sim has at least as many slots as the balancer uses and the balancer's count binds:
 * a node serves at most numParallel requests at a time, whatever it has loaded.
 *
 * Service time is separable: a request of model m on node n takes
 * S(n, m) = a(n) ÷ r(m), where a(n) = mean prompt ÷ prompt rate + mean output ÷ token rate at node n
 * and r(m) is the model's relativeSpeed (the sim scales both rates by it). Counting work in
 * "unit-speed requests" (a request of model m is 1 ÷ r(m) of them), node n does at most
 * C(n) = numParallel(n) ÷ a(n) units per second, whatever models it serves, and the mix needs
 * W = Σ p(m) ÷ r(m) units per request. So λ ≤ Σ C(n) ÷ W; and since a model can only go where it is
 * installed, for every set M of models, λ × Σ_{m∈M} p(m) ÷ r(m) ≤ Σ C(n) over the nodes that have
 * any model of M. By max-flow/min-cut the capacity is the smallest of these bounds (M = all models
 * gives the first). Five models make 31 sets.
 *
 * The earlier estimate gave each node the popularity mix of only its own models and summed the
 * rates; that is not a feasible flow (the CPU box "served" only the light models while no node took
 * up the heavy ones it left) and read about 2 % high. Loads are left out on purpose: this is the
 * ceiling a perfect placement approaches, so "80 %" is 80 % of the best the hardware can do. The
 * models a node can hold at once (maxLoadedModels) do not lower it here: gpu-large and gpu-mid
 * together hold six models, so every model can be hot on a node with most of the capacity.
 */
export function estimateCapacity(
  popularity: readonly number[],
  meanPromptTokens: number,
  meanOutputTokens: number,
  /** Measured slot time ÷ nominal, per node (the bench's self-check); default 1 (nominal). */
  slowdown: Readonly<Record<string, number>> = {},
): CapacityEstimate {
  const unitSec = (n: BenchNode): number => (meanPromptTokens / n.promptTokensPerSec + meanOutputTokens / n.tokensPerSec) * (slowdown[n.id] ?? 1);
  const work = (n: BenchNode): number => n.numParallel / unitSec(n);
  const demand = (i: number): number => popularity[i] / MODELS[i].relativeSpeed;
  const mixUnits = MODELS.reduce((a, _, i) => a + demand(i), 0);
  let rps = Infinity;
  let bottleneck: string[] | undefined;
  for (let set = 1; set < 1 << MODELS.length; set++) {
    const names = MODELS.filter((_, i) => set & (1 << i)).map((m) => m.name);
    const need = MODELS.reduce((a, _, i) => a + (set & (1 << i) ? demand(i) : 0), 0);
    const have = NODES.filter((n) => n.models.some((m) => names.includes(m))).reduce((a, n) => a + work(n), 0);
    if (have / need < rps) {
      rps = have / need;
      bottleneck = names.length === MODELS.length ? undefined : names;
    }
  }
  const byNode: CapacityEstimate['byNode'] = {};
  for (const n of NODES) byNode[n.id] = { meanServiceSec: unitSec(n) * mixUnits, rps: work(n) / mixUnits };
  return { rps, byNode, ...(bottleneck && { bottleneck }) };
}
