import type { StrategyConfig } from '../config/types';
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
export type StrategyName = 'round-robin' | 'weighted-round-robin' | 'least-in-flight' | 'random' | 'model-aware' | 'latency' | 'performance' | 'predictive';

/** What some strategies take at construction; the others ignore it. */
export interface StrategyOptions {
  /** `random`'s source of uniform numbers in [0, 1) (default `Math.random`). */
  rng?: Rng;
  /** `performance`'s factor weights (default `DEFAULT_PERFORMANCE_WEIGHTS`). */
  performanceWeights?: Partial<PerformanceWeights>;
  /** `predictive`'s guard tuning (default `DEFAULT_PREDICTIVE_OPTIONS`). */
  predictive?: Partial<PredictiveOptions>;
}

/**
 * The options the config's `strategy` section gives the strategies that take any.
 *
 * @example
 * StrategyFactory.create(config.strategy.type, strategyOptionsOf(config.strategy));
 */
export function strategyOptionsOf(settings: StrategyConfig): StrategyOptions {
  return settings.performance ? { performanceWeights: settings.performance.weights } : {};
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
};

/**
 * Names from the seed balancers and from nginx, as users will type them. Lookup also folds case
 * and `_` to `-`, so `round_robin` and `least_in_flight` need no entry of their own.
 * - `least_loaded`, `least_conn`, `least_connections` → `least-in-flight` (fewest requests in flight)
 * - `model_affinity` → `model-aware` (prefer nodes with the model loaded)
 * - `latency_based` → `latency` (lowest average response time)
 * - `weighted` → `weighted-round-robin`: the seed picked at random in proportion to weight; smooth
 *   WRR gives the same proportions without random bunching
 * - `hybrid` → `predictive`: the seed's hybrid blended load, health, speed and affinity; predictive
 *   weighs the same things as one predicted time to first token
 */
const ALIASES: Readonly<Record<string, StrategyName>> = {
  'least-loaded': 'least-in-flight',
  'least-conn': 'least-in-flight',
  'least-connections': 'least-in-flight',
  'model-affinity': 'model-aware',
  'latency-based': 'latency',
  weighted: 'weighted-round-robin',
  hybrid: 'predictive',
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
 * StrategyFactory.names();                               // canonical names
 */
export class StrategyFactory {
  private constructor() {}

  /** A new strategy for `name` (canonical or alias); throws `UnknownStrategyError` otherwise. */
  static create(name: string, opts: StrategyOptions = {}): Strategy {
    const canonical = StrategyFactory.resolve(name);
    if (canonical === undefined) {
      throw new UnknownStrategyError(name, StrategyFactory.names(), Object.keys(StrategyFactory.aliases()));
    }
    return BUILDERS[canonical](opts);
  }

  /** The canonical name `name` stands for, or undefined when it is unknown. */
  static resolve(name: string): StrategyName | undefined {
    const f = fold(name);
    if (Object.prototype.hasOwnProperty.call(BUILDERS, f)) return f as StrategyName;
    return Object.prototype.hasOwnProperty.call(ALIASES, f) ? ALIASES[f] : undefined;
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
