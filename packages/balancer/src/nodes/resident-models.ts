import { normalizeModel } from '@ollama-ring/protocol';

/** A model resident on a node, from `/api/ps` or inferred from our own dispatches. */
export interface LoadedModel {
  model: string;
  /** The options signature it was loaded with; null when only `/api/ps` told us (signature unknown). */
  optionsSignature: string | null;
  /** Epoch ms at which Ollama will unload it; Infinity for never. */
  expiresAt: number;
  sizeVram?: number;
  /** Epoch ms it was last bound or finished a request here (Ollama's LRU order); 0 = not since discovery. */
  lastUsed?: number;
  /** For a load we sent: epoch ms when we expect it loaded (requests bound before wait for it). */
  readyAt?: number;
}

/** How long Ollama keeps a model loaded when the request does not say (its default). */
export const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/** Ollama's own default for `OLLAMA_MAX_LOADED_MODELS` on one GPU, or on CPU (ollama-api.md §8). */
export const DEFAULT_MAX_LOADED_MODELS = 3;

/**
 * How many bindings the recent-use shares look back over (a decay per binding, not per second, so
 * they mean the same at any time scale).
 */
const RECENT_USE_WINDOW = 24;

/**
 * What the balancer knows about which models a node holds, mirroring Ollama's scheduler
 * (ollama-api.md §8): at `maxLoadedModels` resident models, a load first evicts one — the least
 * recently used idle model, or, when every resident model has requests in flight, the least
 * recently used of all, which Ollama drains before it loads. A model loaded again with other
 * options (num_ctx, …) replaces its own runner. Loads on one node happen one at a time.
 *
 * The limit is the configured `maxLoadedModels` when there is one. Otherwise it is learned:
 * - it is at least the most models `/api/ps` ever showed loaded at once;
 * - a model gone from `/api/ps` before its expiry, with nothing in flight, was evicted, so the node
 *   was full: the limit is what `/api/ps` shows now (never below the bound above);
 * - a request bound as hot that reports a real load (the model had been evicted behind our back):
 *   the limit is one less than the models we believed resident;
 * and until any of that, Ollama's default, 3.
 *
 * It also keeps, per model, a share of the node's recent bindings, which the predictive strategy
 * uses to weigh what evicting a model costs. Only the scheduler mutates it.
 *
 * @example
 * const evicted = node.residency.load(node, 'qwen3:8b', '', now, now + 300_000, 4_000); // ['mistral:latest']
 */
export class ResidentModels {
  /** The limit learned so far; undefined until there is evidence. */
  learnedLimit: number | undefined;
  /** The most models `/api/ps` showed loaded at once. */
  maxSeen = 0;
  /** Epoch ms until which the node is busy with loads we sent it (Ollama loads one at a time). */
  loadingUntil = 0;
  /**
   * Requests bound as hot to a model we believed loaded (no load of ours under way for it), with how
   * many models we then believed resident: if one still reports a real load, the model had been
   * evicted behind our back.
   */
  readonly hotBound = new Map<number, number>();
  private readonly recent = new Map<string, number>();
  private recentTotal = 0;

  /** The limit in force: configured, else learned, else Ollama's default. */
  limit(configured: number | undefined): number {
    return configured ?? this.learnedLimit ?? Math.max(DEFAULT_MAX_LOADED_MODELS, this.maxSeen);
  }

  /** Counts one binding of `model` here, decaying the older ones. */
  noteBinding(model: string): void {
    const keep = 1 - 1 / RECENT_USE_WINDOW;
    for (const [m, v] of this.recent) this.recent.set(m, v * keep);
    this.recentTotal = this.recentTotal * keep + 1;
    const key = normalizeModel(model);
    this.recent.set(key, (this.recent.get(key) ?? 0) + 1);
  }

  /** The share of the node's recent bindings that were for `model`, in [0, 1]. */
  recentShare(model: string): number {
    return this.recentTotal > 0 ? (this.recent.get(normalizeModel(model)) ?? 0) / this.recentTotal : 0;
  }

  /** A request bound as hot reported a real load: the model had been evicted, so the limit is lower. */
  noteUnexpectedLoad(residentBelieved: number, configured: number | undefined): void {
    if (configured !== undefined) return;
    this.learnedLimit = Math.max(1, this.maxSeen, Math.min(this.limit(undefined), residentBelieved) - 1);
  }

  /** `/api/ps` showed `count` models, and `evicted` tells whether one we held went before its expiry. */
  noteObserved(count: number, evicted: boolean, configured: number | undefined): void {
    this.maxSeen = Math.max(this.maxSeen, count);
    if (configured !== undefined) return;
    // After an eviction the node was full; /api/ps can only show fewer (expiries), never more.
    if (evicted) this.learnedLimit = Math.max(1, this.maxSeen);
    else if (this.learnedLimit !== undefined && this.learnedLimit < this.maxSeen) this.learnedLimit = this.maxSeen;
  }
}

/** The node facts eviction needs (a PoolNode satisfies it). */
export interface ResidencyView {
  readonly loaded: ReadonlyMap<string, LoadedModel>;
  readonly inFlightByModel: ReadonlyMap<string, number>;
}

/** Models resident at `now` (not expired), keyed by normalised name. */
export function residentAt(node: ResidencyView, now: number): LoadedModel[] {
  return [...node.loaded.values()].filter((l) => l.expiresAt > now);
}

/**
 * The models a load of (`model`, `optionsSignature`) would evict at `now`, in order, under `limit`:
 * none when it is resident with those options; its own runner when it is resident with others; then,
 * while the node is full, the least recently used idle model, else the least recently used busy one.
 */
export function evictionVictims(node: ResidencyView, model: string, optionsSignature: string, limit: number, now: number): LoadedModel[] {
  const key = normalizeModel(model);
  const resident = residentAt(node, now);
  const own = resident.find((l) => l.model === key);
  if (own && (own.optionsSignature === optionsSignature || (own.optionsSignature === null && optionsSignature === ''))) return [];
  const victims: LoadedModel[] = own ? [own] : [];
  const others = resident.filter((l) => l.model !== key);
  const busy = (l: LoadedModel) => (node.inFlightByModel.get(l.model) ?? 0) > 0;
  others.sort((a, b) => Number(busy(a)) - Number(busy(b)) || (a.lastUsed ?? 0) - (b.lastUsed ?? 0) || (a.model < b.model ? -1 : 1));
  let count = others.length;
  for (const l of others) {
    if (count < limit) break;
    victims.push(l);
    count--;
  }
  return victims;
}
