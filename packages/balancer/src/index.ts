/**
 * @ollama-ring/balancer: the request pipeline, scheduler, nodes, config and metrics of ollama-ring,
 * and the `PipelineFactory` library API.
 */
export {
  BackpressureError,
  BalancerError,
  ConfigError,
  type ConfigIssue,
  InvalidNodeError,
  ModelNotFoundError,
  NoAvailableNodeError,
  PipelineStateError,
  QueueFullError,
  QueueTimeoutError,
  RateLimitedError,
  RequestAbortedError,
  UpstreamError,
  UpstreamTimeoutError,
  ValidationError,
} from './errors';
export { controlLayout, controlSchema, type ControlSchema, ingressLayout, ingressSchema, type IngressSchema } from './events';
export { type ChatMessage, InferenceRequest, type InferenceResponse, type RequestHints } from './inference-request';
export { deliveredInBand, type EndInfo, type ResponseSink, type StartInfo } from './response-sink';
export { type CallOptions, Pipeline, PipelineEngine, type RawRequest } from './pipeline';
export { type FactoryOptions, type MetricsAccess, PipelineFactory } from './pipeline-factory';
export { type HealthState, type LoadedModel, type NodeSpec, PoolNode } from './nodes/node';
export { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './nodes/circuit-breaker';
export { NodeRegistry, type NodeSnapshot, snapshotNode } from './nodes/node-registry';
export { nodeUrlParts, type NodeUrlParts, REDACTED, redactCredentials } from './nodes/node-url';
export { DEFAULT_ESTIMATES, type EstimateDefaults, Estimates, type FinalChunkStats, OUTPUT_SAMPLES, REAL_LOAD_MS, type SlotWork } from './scheduler/estimates';
export type { SchedulerObserver, RequestEnd, Outcome } from './scheduler/observer';
export { ControlPlane } from './scheduler/control-plane';
export type { PoolView, WaitingRequest, HeldSlot, NodeEstimate, ModelEstimate } from './scheduler/pool-view';
export type {
  SchedulerEvent,
  SchedulerEventType,
  RequestValidated,
  RequestCompleted,
  RequestAborted,
  RetryDue,
  HealthChecked,
  ModelsDiscovered,
  NodeAdded,
  NodeRemoved,
  NodeAction,
  NodeCommanded,
  StrategySet,
  ConfigReloaded,
  TimerFired,
  Barrier,
  ShutdownBegan,
  CommandReplies,
} from './scheduler/scheduler-events';
export type { SchedulerJournal } from './scheduler/scheduler-deps';
export type { MetricsPlacement } from './outcomes/outcome-pipeline';
export {
  byLoadThenPriority,
  compareIds,
  compileHybrid,
  defaultHybridConfig,
  type HybridConfig,
  type HybridMatch,
  type HybridOptions,
  type HybridRule,
  type HybridScore,
  HybridStrategy,
  type HybridTarget,
  type HybridWeights,
  DEFAULT_PERFORMANCE_WEIGHTS,
  DEFAULT_PREDICTIVE_OPTIONS,
  DEFAULT_STRATEGY,
  freeCandidates,
  LatencyStrategy,
  LeastInFlightStrategy,
  minBy,
  ModelAwareStrategy,
  PerformanceStrategy,
  type PerformanceWeights,
  type PredictiveOptions,
  PredictiveStrategy,
  RandomStrategy,
  type Rng,
  RoundRobinStrategy,
  type RoutingContext,
  type RoutingRequest,
  type Strategy,
  StrategyFactory,
  type StrategyName,
  type StrategyOptions,
  type TtftEstimate,
  UnknownStrategyError,
  WeightedRoundRobinStrategy,
} from './strategies';
export { BalancerMetrics } from './metrics';
export {
  BREAKER_GAUGE_VALUE,
  HEALTH_GAUGE_VALUE,
  LLM_LATENCY_BUCKETS,
  type MetricsOptions,
  type NodeGaugeInput,
  type RequestOutcome,
  type RequestRecord,
  type TimeoutPhase,
} from './metrics-schema';
export { bucketCapacity, DEFAULT_MAX_CLIENTS, isUnlimited, RateLimiter, rateLimitSettings, type RateLimitSettings, sameBucketConfig, type TakeResult, TokenBucket } from './limits';
export { complexityOf, priorityOf, signatureOf, validateRequest } from './stages/validate-request';
export {
  type ApiKeyConfig,
  type BalancerConfig,
  type BucketConfig,
  checkSchema,
  CONFIG_PATH_ENV,
  CONFIG_SCHEMA,
  type ConfigInput,
  type ConfigSource,
  type ConfigWatcher,
  defaultConfig,
  type EnvOverride,
  type EnvOverrides,
  formatIssue,
  loadConfig,
  type LoadedConfig,
  type LoadOptions,
  LOCAL_NODE_ID,
  LOCAL_NODE_URL,
  localNode,
  NODE_DEFAULTS,
  NODE_SCHEMA,
  type NodeEntry,
  type NodeInput,
  NODES_ENV,
  OLLAMA_DEFAULT_PORT,
  parseConfig,
  parseHostsFile,
  parseNodeEntry,
  parseNodeList,
  parseNodesEnv,
  readEnvOverrides,
  resolveConfig,
  type SchemaProblem,
  type StrategyCheck,
  watchConfig,
  type WatchOptions,
} from './config';
export { stripHopByHop } from './upstream/hop-by-hop';
