import { HybridStrategy } from './hybrid';
import type { HybridOptions } from './hybrid-config';
import { LatencyStrategy } from './latency';
import { LeastInFlightStrategy } from './least-in-flight';
import { ModelAwareStrategy } from './model-aware';
import { PerformanceStrategy, type PerformanceWeights } from './performance';
import { PredictiveStrategy, type PredictiveOptions } from './predictive';
import { RandomStrategy, type Rng } from './random';
import { RoundRobinStrategy } from './round-robin';
import type { Strategy } from './strategy';
import { UnknownStrategyError } from './strategy-errors';
import { WeightedRoundRobinStrategy } from './weighted-round-robin';

/** The canonical strategy names. */
export type StrategyName = 'round-robin' | 'weighted-round-robin' | 'least-in-flight' | 'random' | 'model-aware' | 'latency' | 'performance' | 'predictive' | 'hybrid';

/** What some strategies take at construction; the others ignore it. */
export interface StrategyOptions {
  /** `random`'s source of uniform numbers in [0, 1) (default `Math.random`). */
  rng?: Rng;
  /** `performance`'s factor weights (default `DEFAULT_PERFORMANCE_WEIGHTS`). */
  performanceWeights?: Partial<PerformanceWeights>;
  /** `predictive`'s guard tuning (default `DEFAULT_PREDICTIVE_OPTIONS`). */
  predictive?: Partial<PredictiveOptions>;
  /** `hybrid`'s weights and rules (`strategy.hybrid` in the config; default `defaultHybridConfig()`). */
  hybrid?: HybridOptions;
}

/** The strategy used when the config names none. */
export const DEFAULT_STRATEGY: StrategyName = 'predictive';

const BUILDERS: Readonly<Record<StrategyName, (o: StrategyOptions) => Strategy>> = {
  'round-robin': () => new RoundRobinStrategy(),
  'weighted-round-robin': () => new WeightedRoundRobinStrategy(),
  'least-in-flight': () => new LeastInFlightStrategy(),
  random: (o) => new RandomStrategy(o.rng),
  'model-aware': () => new ModelAwareStrategy(),
  latency: () => new LatencyStrategy(),
  performance: (o) => new PerformanceStrategy(o.performanceWeights),
  predictive: (o) => new PredictiveStrategy(o.predictive),
  hybrid: (o) => new HybridStrategy(o.hybrid),
};

/**
 * Names from the seeds and from nginx, as users will type them. Lookup also folds case, blanks and
 * `_` to `-`, so `round_robin`, `Round Robin` and `least_in_flight` need no entry of their own.
 * - `least_loaded`, `least_conn`, `least_connections` → `least-in-flight` (fewest requests in flight)
 * - `model_affinity` → `model-aware` (prefer nodes with the model loaded)
 * - `latency_based` → `latency` (lowest average response time)
 * - `weighted` → `weighted-round-robin`: the seed picked at random in proportion to weight; smooth
 *   WRR gives the same proportions without random bunching
 */
const ALIASES: Readonly<Record<string, StrategyName>> = {
  'least-loaded': 'least-in-flight',
  'least-conn': 'least-in-flight',
  'least-connections': 'least-in-flight',
  'model-affinity': 'model-aware',
  'latency-based': 'latency',
  weighted: 'weighted-round-robin',
};

/**
 * Names the seeds use for something that is not a strategy of its own here, with what to use
 * instead. They are refused (a config error at `strategy.type`) rather than mapped onto a strategy
 * that means something else.
 */
const REFUSED: Readonly<Record<string, string>> = {
  priority:
    "'priority' is not a strategy here: a node's `priority` (lower preferred) breaks ties in every load-based strategy and is a factor of `performance`, and a request's priority orders the queue under any strategy; use `performance`, or `hybrid` with a `match: { priority: high }` rule",
  'capability-based':
    "'capability-based' is not a strategy here: every strategy only considers nodes that have the model and the tags a request asks for; to send requests to nodes by capability (large models to the bigger node), use `hybrid` with rules",
  'tag-based':
    "'tag-based' is not a strategy here: every strategy only considers nodes carrying the tags a request asks for (`instance_tags`, `require_gpu`, `X-Ollama-Ring-Tags`); keep the default `predictive`, or use `hybrid` with `prefer: { tags: [...] }` rules",
};

const fold = (name: string): string =>
  name
    .trim()
    .toLowerCase()
    .replace(/[_\s]+/g, '-');

/**
 * Creates strategies by name. Each call returns a new instance with its own state (cursor, RNG).
 *
 * @example
 * pipeline.setStrategy(StrategyFactory.create('round-robin'));
 * StrategyFactory.create('least_loaded').name;          // 'least-in-flight'
 * StrategyFactory.create('random', { rng: seeded(42) });
 * StrategyFactory.create('hybrid', { hybrid: config.strategy.hybrid });
 * StrategyFactory.names();                               // canonical names
 */
export class StrategyFactory {
  private constructor() {}

  /**
   * A new strategy for `name` (canonical or alias); throws `UnknownStrategyError` otherwise (saying
   * what to use instead for a refused seed name), and `ConfigError` for invalid `hybrid` settings.
   */
  static create(name: string, opts: StrategyOptions = {}): Strategy {
    const canonical = StrategyFactory.resolve(name);
    if (canonical === undefined) {
      throw new UnknownStrategyError(name, StrategyFactory.names(), Object.keys(StrategyFactory.aliases()), StrategyFactory.refusal(name));
    }
    return BUILDERS[canonical](opts);
  }

  /** The canonical name `name` stands for, or undefined when it is unknown. */
  static resolve(name: string): StrategyName | undefined {
    const f = fold(name);
    if (Object.prototype.hasOwnProperty.call(BUILDERS, f)) return f as StrategyName;
    return Object.prototype.hasOwnProperty.call(ALIASES, f) ? ALIASES[f] : undefined;
  }

  /** Why a name the seeds use is refused, naming the strategy to use instead; undefined for any other name. */
  static refusal(name: string): string | undefined {
    const f = fold(name);
    return Object.prototype.hasOwnProperty.call(REFUSED, f) ? REFUSED[f] : undefined;
  }

  /**
   * The config loader's check of `strategy.type`: true for a strategy or an alias, the reason for a
   * refused seed name, false for anything else.
   *
   * @example loadConfig('config.yaml', { strategies: StrategyFactory.accepts });
   */
  static accepts(this: void, name: string): boolean | string {
    return StrategyFactory.resolve(name) !== undefined || (StrategyFactory.refusal(name) ?? false);
  }

  /** The canonical names, in a fixed order. */
  static names(): StrategyName[] {
    return Object.keys(BUILDERS) as StrategyName[];
  }

  /** The accepted aliases, spelled as the seeds spell them, and what each maps to. */
  static aliases(): Record<string, StrategyName> {
    const out: Record<string, StrategyName> = {};
    for (const [k, v] of Object.entries(ALIASES)) out[k.replace(/-/g, '_')] = v;
    return out;
  }
}
