/**
 * Routing strategies: one module each, plus the factory that builds them by name.
 *
 * @example
 * import { StrategyFactory } from './strategies';
 * const s = StrategyFactory.create('predictive');
 */
export type { RoutingContext, RoutingRequest, Strategy } from './strategy';
export { compareIds, freeCandidates, byLoadThenPriority, minBy } from './candidate-order';
export { RoundRobinStrategy } from './round-robin';
export { WeightedRoundRobinStrategy } from './weighted-round-robin';
export { LeastInFlightStrategy } from './least-in-flight';
export { RandomStrategy, type Rng } from './random';
export { ModelAwareStrategy } from './model-aware';
export { LatencyStrategy } from './latency';
export { PerformanceStrategy, DEFAULT_PERFORMANCE_WEIGHTS, type PerformanceWeights } from './performance';
export { PredictiveStrategy, DEFAULT_PREDICTIVE_OPTIONS, type PredictiveOptions, type TtftEstimate } from './predictive';
export { HybridStrategy, hybridScore, responseScore, capacityScore, healthScore, expectedResponseMs, type HybridScore } from './hybrid';
export {
  compileHybrid,
  defaultHybridConfig,
  globToRegExp,
  type CompiledHybrid,
  type CompiledRule,
  type HybridConfig,
  type HybridMatch,
  type HybridOptions,
  type HybridProblem,
  type HybridRule,
  type HybridTarget,
  type HybridWeights,
} from './hybrid-config';
export { UnknownStrategyError } from './strategy-errors';
export { StrategyFactory, DEFAULT_STRATEGY, type StrategyName, type StrategyOptions } from './strategy-factory';
