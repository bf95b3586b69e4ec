import { Ewma } from './ewma';

/** What Ollama's final chunk says about one request, in milliseconds and tokens. */
export interface FinalChunkStats {
  loadMs: number;
  promptTokens: number;
  promptEvalMs: number;
  evalTokens: number;
  evalMs: number;
  totalMs: number;
}

/** Priors used until a node and model have been observed. */
export interface EstimateDefaults {
  loadMs: number;
  prefillTokensPerSec: number;
  generateTokensPerSec: number;
  serviceMs: number;
}

export const DEFAULT_ESTIMATES: EstimateDefaults = {
  loadMs: 5_000,
  prefillTokensPerSec: 500,
  generateTokensPerSec: 30,
  serviceMs: 5_000,
};

interface NodeModel {
  load: Ewma;
  prefill: Ewma; // tokens per second
  generate: Ewma; // tokens per second
  service: Ewma; // ms per request, first byte to last
}

interface NodeStats {
  latency: Ewma;
  ttft: Ewma;
  success: Ewma; // 1 for success, 0 for failure
}

/**
 * Ollama reports a few ms of load_duration even when the model is hot; from this many ms on, the
 * request really loaded its model.
 */
export const REAL_LOAD_MS = 50;

const key = (node: string, model: string) => `${node}\u0000${model}`;

/**
 * What the balancer has learned about each node and model, as EWMAs: load time, prefill speed,
 * generation speed and service time per (node, model); latency, time to first token and success rate
 * per node. Learned from final chunks and from the balancer's own timings, with no extra probes.
 * Only the scheduler writes it.
 *
 * @example
 * est.recordCompletion('gpu-1', 'llama3.2:latest', stats, { ttftMs: 420, latencyMs: 2_900 });
 * est.loadMs('gpu-1', 'llama3.2:latest'); // learned, or the model's mean elsewhere, or the prior
 */
export class Estimates {
  private readonly byNodeModel = new Map<string, NodeModel>();
  private readonly byNode = new Map<string, NodeStats>();

  constructor(
    readonly defaults: EstimateDefaults = DEFAULT_ESTIMATES,
    private readonly alpha = 0.2,
  ) {}

  /** A request finished with a final chunk (or without one: `stats` undefined). */
  recordCompletion(
    nodeId: string,
    model: string,
    stats: FinalChunkStats | undefined,
    observed: { ttftMs: number; latencyMs: number },
  ): void {
    const nm = this.nodeModel(nodeId, model);
    const n = this.node(nodeId);
    n.latency.update(observed.latencyMs);
    n.ttft.update(observed.ttftMs);
    n.success.update(1);
    // Service time is how long a hot request holds a slot: a cold request's load is learned apart
    // (as load time), or every later wait estimate would carry the cost of one load.
    nm.service.update(Math.max(0, observed.latencyMs - (stats && stats.loadMs >= REAL_LOAD_MS ? stats.loadMs : 0)));
    if (!stats) return;
    // Ollama reports a few ms of load_duration even when the model is hot; only a real load teaches
    // us the load time.
    if (stats.loadMs >= REAL_LOAD_MS) nm.load.update(stats.loadMs);
    if (stats.promptTokens > 0 && stats.promptEvalMs > 0) nm.prefill.update((stats.promptTokens / stats.promptEvalMs) * 1000);
    if (stats.evalTokens > 0 && stats.evalMs > 0) nm.generate.update((stats.evalTokens / stats.evalMs) * 1000);
  }

  recordFailure(nodeId: string): void {
    this.node(nodeId).success.update(0);
  }

  /** Expected load time of `model` on `nodeId`: learned there, else its mean on other nodes, else the prior. */
  loadMs(nodeId: string, model: string): number {
    return this.learned(nodeId, model, (nm) => nm.load, this.defaults.loadMs);
  }

  /** Expected prefill time for a prompt of `promptTokens` tokens. */
  prefillMs(nodeId: string, model: string, promptTokens: number): number {
    const rate = this.learned(nodeId, model, (nm) => nm.prefill, this.defaults.prefillTokensPerSec);
    return rate > 0 ? (promptTokens / rate) * 1000 : 0;
  }

  generateTokensPerSec(nodeId: string, model: string): number {
    return this.learned(nodeId, model, (nm) => nm.generate, this.defaults.generateTokensPerSec);
  }

  /** Expected time one request of `model` occupies a slot on `nodeId`. */
  serviceMs(nodeId: string, model: string): number {
    return this.learned(nodeId, model, (nm) => nm.service, this.defaults.serviceMs);
  }

  latencyMs(nodeId: string): number {
    return this.byNode.get(nodeId)?.latency.value(this.defaults.serviceMs) ?? this.defaults.serviceMs;
  }

  ttftMs(nodeId: string): number {
    return this.byNode.get(nodeId)?.ttft.value(0) ?? 0;
  }

  /** Success rate in [0, 1]; 1 until observed. */
  successRate(nodeId: string): number {
    return this.byNode.get(nodeId)?.success.value(1) ?? 1;
  }

  /** How many completions have been observed on a node (0 = only priors). */
  samples(nodeId: string): number {
    return this.byNode.get(nodeId)?.latency.count ?? 0;
  }

  /** Drops what was learned about nodes that no longer exist (a reload keeps the rest). */
  retainNodes(ids: ReadonlySet<string>): void {
    for (const k of [...this.byNodeModel.keys()]) if (!ids.has(k.split('\u0000')[0])) this.byNodeModel.delete(k);
    for (const k of [...this.byNode.keys()]) if (!ids.has(k)) this.byNode.delete(k);
  }

  /** A plain copy for status endpoints and tests. */
  snapshot(): Record<string, Record<string, { loadMs: number; prefillTps: number; generateTps: number; serviceMs: number }>> {
    const out: Record<string, Record<string, { loadMs: number; prefillTps: number; generateTps: number; serviceMs: number }>> = {};
    for (const [k, nm] of this.byNodeModel) {
      const [node, model] = k.split('\u0000');
      (out[node] ??= {})[model] = {
        loadMs: nm.load.value(NaN),
        prefillTps: nm.prefill.value(NaN),
        generateTps: nm.generate.value(NaN),
        serviceMs: nm.service.value(NaN),
      };
    }
    return out;
  }

  private learned(nodeId: string, model: string, pick: (nm: NodeModel) => Ewma, prior: number): number {
    const own = this.byNodeModel.get(key(nodeId, model));
    if (own && pick(own).count > 0) return pick(own).value();
    let sum = 0;
    let n = 0;
    for (const [k, nm] of this.byNodeModel) {
      if (k.endsWith(`\u0000${model}`) && pick(nm).count > 0) {
        sum += pick(nm).value();
        n++;
      }
    }
    return n > 0 ? sum / n : prior;
  }

  private nodeModel(nodeId: string, model: string): NodeModel {
    let nm = this.byNodeModel.get(key(nodeId, model));
    if (!nm) {
      nm = { load: new Ewma(this.alpha), prefill: new Ewma(this.alpha), generate: new Ewma(this.alpha), service: new Ewma(this.alpha) };
      this.byNodeModel.set(key(nodeId, model), nm);
    }
    return nm;
  }

  private node(nodeId: string): NodeStats {
    let n = this.byNode.get(nodeId);
    if (!n) {
      n = { latency: new Ewma(this.alpha), ttft: new Ewma(this.alpha), success: new Ewma(this.alpha) };
      this.byNode.set(nodeId, n);
    }
    return n;
  }
}
