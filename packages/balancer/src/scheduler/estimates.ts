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
  output: Ewma; // tokens generated per request (eval_count)
  firstByte: Ewma; // ms from dispatch to the first byte of a stream, model hot
}

/**
 * What one completion showed, as the balancer timed it. `hotStream`: it streamed and its model was
 * hot, so `ttftMs` is a first byte without a load (a non-streamed answer's first byte is its last).
 */
export interface ObservedTimes {
  ttftMs: number;
  latencyMs: number;
  hotStream?: boolean;
}

/** What one in-flight request asks of its slot, as far as the balancer knows it. */
export interface SlotWork {
  /** Prompt size estimate in tokens. */
  promptTokens: number;
  /** The request's own output cap (`num_predict`, `max_tokens`), when it gave a positive one. */
  outputTokens?: number;
}

/** How many recent output lengths per model are kept for {@link Estimates.remainingMs}. */
export const OUTPUT_SAMPLES = 32;

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

/** What is learned of one model on one node, as a copy (NaN: no sample yet). */
export interface LearnedFigure {
  loadMs: number;
  prefillTps: number;
  generateTps: number;
  serviceMs: number;
}

/** Learned figures by node, then model. */
export type LearnedFigures = Readonly<Record<string, Readonly<Record<string, LearnedFigure>>>>;

const NODE_MODEL_KINDS = ['load', 'prefill', 'generate', 'service', 'output', 'firstByte'] as const;

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
  /** By node, then model: two lookups of strings the pool already holds, rather than a key string made per lookup. */
  private readonly byNodeModel = new Map<string, Map<string, NodeModel>>();
  private readonly byNode = new Map<string, NodeStats>();
  /** Recent output lengths (eval_count) per model, a ring of {@link OUTPUT_SAMPLES}. */
  private readonly outputs = new Map<string, { samples: number[]; next: number }>();
  /** The models some node has a sample of, per kind. */
  private readonly seen: Record<keyof NodeModel, Set<string>> = {
    load: new Set(),
    prefill: new Set(),
    generate: new Set(),
    service: new Set(),
    output: new Set(),
    firstByte: new Set(),
  };

  constructor(
    readonly defaults: EstimateDefaults = DEFAULT_ESTIMATES,
    private readonly alpha = 0.2,
  ) {}

  /** A request finished with a final chunk (or without one: `stats` undefined). */
  recordCompletion(nodeId: string, model: string, stats: FinalChunkStats | undefined, observed: ObservedTimes): void {
    const nm = this.nodeModel(nodeId, model);
    const n = this.node(nodeId);
    n.latency.update(observed.latencyMs);
    n.ttft.update(observed.ttftMs);
    n.success.update(1);
    // Service time is how long a hot request holds a slot: a cold request's load is learned apart
    // (as load time), or every later wait estimate would carry the cost of one load.
    nm.service.update(Math.max(0, observed.latencyMs - (stats && stats.loadMs >= REAL_LOAD_MS ? stats.loadMs : 0)));
    if (observed.hotStream && !(stats && stats.loadMs >= REAL_LOAD_MS)) nm.firstByte.update(observed.ttftMs);
    this.recordStats(nm, model, stats);
    this.noteSeen(model, nm);
  }

  private recordStats(nm: NodeModel, model: string, stats: FinalChunkStats | undefined): void {
    if (!stats) return;
    // Ollama reports a few ms of load_duration even when the model is hot; only a real load teaches
    // us the load time.
    if (stats.loadMs >= REAL_LOAD_MS) nm.load.update(stats.loadMs);
    if (stats.promptTokens > 0 && stats.promptEvalMs > 0) nm.prefill.update((stats.promptTokens / stats.promptEvalMs) * 1000);
    if (stats.evalTokens > 0 && stats.evalMs > 0) nm.generate.update((stats.evalTokens / stats.evalMs) * 1000);
    if (stats.evalTokens > 0) {
      nm.output.update(stats.evalTokens);
      this.noteOutput(model, stats.evalTokens);
    }
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

  /**
   * The typical output of `model` in tokens: learned on `nodeId`, else the model's mean elsewhere,
   * else what the priors imply (`serviceMs` at `generateTokensPerSec`).
   */
  outputTokens(nodeId: string, model: string): number {
    return this.learned(nodeId, model, (nm) => nm.output, (this.defaults.serviceMs * this.defaults.generateTokensPerSec) / 1000);
  }

  /**
   * Expected ms until an in-flight request of `model` on `nodeId` frees its slot, `elapsedMs` after
   * it began generating (after its load, if it had one). Its length is its own when known: prefill
   * of its prompt plus `outputTokens` at the learned token rate. When its output cap is unknown, the
   * length comes from the model's recent output lengths, conditioned on what it has already
   * produced: the mean of (x − done) over the recent outputs x longer than the `done` tokens it has
   * generated so far. Output lengths have a long tail, so a request that has run past the mean is
   * not about to end: among requests that got this far, the typical one still has a good part of a
   * long answer to go. Without any observed outputs it falls back to the mean service time.
   *
   * A request that has run past even its own known length (a slower node than learned) is taken to
   * end within 5 % of that length: it is still running, so not 0, but it cannot have far to go.
   */
  remainingMs(nodeId: string, model: string, work: SlotWork, elapsedMs: number): number {
    const elapsed = Math.max(0, elapsedMs);
    const prefill = this.prefillMs(nodeId, model, Math.max(0, work.promptTokens));
    const rate = this.generateTokensPerSec(nodeId, model);
    if (work.outputTokens !== undefined && work.outputTokens > 0 && rate > 0) {
      const total = prefill + (work.outputTokens / rate) * 1000;
      return Math.max(total - elapsed, 0.05 * total);
    }
    const samples = this.outputs.get(model)?.samples;
    if (!samples || samples.length === 0 || rate <= 0) {
      const service = this.serviceMs(nodeId, model);
      return Math.max(service - elapsed, 0.05 * service);
    }
    const done = (Math.max(0, elapsed - prefill) * rate) / 1000;
    let sum = 0;
    let n = 0;
    let longest = 0;
    for (const x of samples) {
      longest = Math.max(longest, x);
      if (x > done) {
        sum += x - done;
        n++;
      }
    }
    // Longer than anything seen lately: it ends soon, as with a known length.
    const tokensLeft = n > 0 ? sum / n : 0.05 * longest;
    return Math.max(0, prefill - elapsed) + (tokensLeft / rate) * 1000;
  }

  /**
   * When the first byte of a stream of `model` on `nodeId` is due, in ms after dispatch, from what
   * was learned only: the hot first byte seen for the model (its own prompts' prefill and the
   * network included), or the prefill of this prompt at the learned rate plus one token, whichever
   * is longer, plus the learned load when `cold`. Undefined when the pool has not learned enough
   * (no stream of the model served yet, or a cold start with no load ever seen): then only the
   * configured timeouts apply, since priors can be far off for an unknown model or machine.
   */
  expectedFirstByteMs(nodeId: string, model: string, promptTokens: number, cold: boolean): number | undefined {
    if (cold && !this.learnedAnywhere(model, 'load')) return undefined;
    const hasFirstByte = this.learnedAnywhere(model, 'firstByte');
    const hasPrefill = this.learnedAnywhere(model, 'prefill') && this.learnedAnywhere(model, 'generate');
    if (!hasFirstByte && !hasPrefill) return undefined;
    const seen = hasFirstByte ? this.learned(nodeId, model, (nm) => nm.firstByte, 0) : 0;
    const prefill = hasPrefill ? this.prefillMs(nodeId, model, promptTokens) + 1000 / this.generateTokensPerSec(nodeId, model) : 0;
    return Math.max(seen, prefill) + (cold ? this.loadMs(nodeId, model) : 0);
  }

  /** The learned gap between two generated tokens of `model` on `nodeId`, in ms; undefined until a rate was seen. */
  tokenGapMs(nodeId: string, model: string): number | undefined {
    if (!this.learnedAnywhere(model, 'generate')) return undefined;
    return 1000 / this.generateTokensPerSec(nodeId, model);
  }

  /**
   * How long a request of `model` on `nodeId` is expected to take from dispatch to its last byte
   * (load if cold, prefill, output), or undefined before any request of the model was served.
   */
  expectedServiceMs(nodeId: string, model: string, work: SlotWork, cold: boolean): number | undefined {
    if (!this.learnedAnywhere(model, 'service')) return undefined;
    if (cold && !this.learnedAnywhere(model, 'load')) return undefined;
    return this.remainingMs(nodeId, model, work, 0) + (cold ? this.loadMs(nodeId, model) : 0);
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
    for (const k of [...this.byNodeModel.keys()]) if (!ids.has(k)) this.byNodeModel.delete(k);
    for (const k of [...this.byNode.keys()]) if (!ids.has(k)) this.byNode.delete(k);
    for (const set of Object.values(this.seen)) set.clear();
    for (const models of this.byNodeModel.values()) for (const [model, nm] of models) this.noteSeen(model, nm);
  }

  /** A plain copy for status endpoints and tests. */
  snapshot(): LearnedFigures {
    const out: Record<string, Record<string, LearnedFigure>> = {};
    for (const [node, models] of this.byNodeModel) {
      for (const [model, nm] of models) {
        (out[node] ??= {})[model] = {
          loadMs: nm.load.value(NaN),
          prefillTps: nm.prefill.value(NaN),
          generateTps: nm.generate.value(NaN),
          serviceMs: nm.service.value(NaN),
        };
      }
    }
    return out;
  }

  /**
   * Fills in what another replica learned (`state.backend: redis`), for the (node, model) figures
   * this one has no sample of yet: a new replica starts warm; its own samples always win.
   */
  seed(learned: LearnedFigures): void {
    for (const [node, models] of Object.entries(learned)) {
      for (const [model, f] of Object.entries(models)) {
        const nm = this.nodeModel(node, model);
        const fill = (e: Ewma, v: number): void => {
          if (e.count === 0 && Number.isFinite(v) && v > 0) e.update(v);
        };
        fill(nm.load, f.loadMs);
        fill(nm.prefill, f.prefillTps);
        fill(nm.generate, f.generateTps);
        fill(nm.service, f.serviceMs);
        this.noteSeen(model, nm);
      }
    }
  }

  /** Whether any node has a sample of `kind` for `model` (kept as a set: this is asked per dispatch). */
  private learnedAnywhere(model: string, kind: keyof NodeModel): boolean {
    return this.seen[kind].has(model);
  }

  private noteSeen(model: string, nm: NodeModel): void {
    for (const kind of NODE_MODEL_KINDS) if (nm[kind].count > 0) this.seen[kind].add(model);
  }

  private learned(nodeId: string, model: string, pick: (nm: NodeModel) => Ewma, prior: number): number {
    const own = this.byNodeModel.get(nodeId)?.get(model);
    if (own && pick(own).count > 0) return pick(own).value();
    let sum = 0;
    let n = 0;
    for (const models of this.byNodeModel.values()) {
      const nm = models.get(model);
      if (nm && pick(nm).count > 0) {
        sum += pick(nm).value();
        n++;
      }
    }
    return n > 0 ? sum / n : prior;
  }

  private nodeModel(nodeId: string, model: string): NodeModel {
    let models = this.byNodeModel.get(nodeId);
    if (!models) this.byNodeModel.set(nodeId, (models = new Map()));
    let nm = models.get(model);
    if (!nm) {
      nm = {
        load: new Ewma(this.alpha),
        prefill: new Ewma(this.alpha),
        generate: new Ewma(this.alpha),
        service: new Ewma(this.alpha),
        output: new Ewma(this.alpha),
        firstByte: new Ewma(this.alpha),
      };
      models.set(model, nm);
    }
    return nm;
  }

  private noteOutput(model: string, tokens: number): void {
    let o = this.outputs.get(model);
    if (!o) {
      o = { samples: [], next: 0 };
      this.outputs.set(model, o);
    }
    if (o.samples.length < OUTPUT_SAMPLES) o.samples.push(tokens);
    else o.samples[o.next] = tokens;
    o.next = (o.next + 1) % OUTPUT_SAMPLES;
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
