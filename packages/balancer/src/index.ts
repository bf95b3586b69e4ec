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
  LeaseExpiredError,
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
  isPoolRefusal,
} from './errors';
export { controlLayout, controlSchema, type ControlSchema, ingressLayout, ingressSchema, type IngressSchema } from './events';
export { type ChatMessage, InferenceRequest, type InferenceResponse, type RequestHints } from './inference-request';
export { deliveredInBand, type EndInfo, type ResponseSink, type StartInfo } from './response-sink';
export { type CallOptions, Pipeline, PipelineEngine, type RawRequest } from './pipeline';
export { Lease, type LeasedNode, type LeaseFailureDetails, type LeaseOptions, type LeaseState, type LeaseSuccessDetails } from './lease';
export type { LeaseCounts } from './scheduler/leases';
export type { SharedStateStatus } from './shared/redis-state';
export { type JobLease, JobLeaseLostError, type JobLeasePort } from './shared/job-leases';
export { type FactoryOptions, type MetricsAccess, PipelineFactory } from './pipeline-factory';
export { type HealthState, type LoadedModel, type NodeSpec, PoolNode } from './nodes/node';
export { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './nodes/circuit-breaker';
export { canServe, NodeRegistry, type NodeSnapshot, snapshotNode } from './nodes/node-registry';
export { type NodeResources, RESOURCE_FAMILIES, resourceMaxAgeMs, type ResourceSignals, resourceSignals, resourcesView, type ScrapeOutcome } from './nodes/resource-signals';
export { ExpositionError, parsePrometheusText, type PromSample } from './nodes/prometheus-text';
export { type ResourceScrape, scrapeResources, type ScrapeTarget } from './nodes/resource-scrape';
export { nodeUrlParts, type NodeUrlParts, REDACTED, redactCredentials } from './nodes/node-url';
export { certificateHint, type NodeAddress, NodeTlsError, nodeTlsFiles, readTlsFiles, type TlsFiles, type TlsMaterial, TlsPools, withUpstreamTls } from './nodes/node-tls';
export { parseTraceparent, traceHeadersOf, type TraceHeaders } from './tracing/trace-context';
export { DEFAULT_ESTIMATES, type EstimateDefaults, Estimates, type FinalChunkStats, OUTPUT_SAMPLES, REAL_LOAD_MS, type SlotWork } from './scheduler/estimates';
export type { SchedulerObserver, RequestEnd, Outcome } from './scheduler/observer';
export { ControlPlane } from './scheduler/control-plane';
export type { PoolView, WaitingRequest, HeldSlot, NodeEstimate, ModelEstimate, ClassCounts } from './scheduler/pool-view';
export { type NodeUsage, USAGE_WINDOW_MS } from './nodes/slot-usage';
export { IMBALANCE_DEFINITION, imbalanceOf, type ModelImbalance, peerGroups, poolUtilization, type PoolUtilization, spread } from './scheduler/load-imbalance';
export type {
  SchedulerEvent,
  SchedulerEventType,
  RequestValidated,
  LeaseRequested,
  LeaseReleased,
  LeaseExpired,
  RequestCompleted,
  RequestAborted,
  RetryDue,
  HealthChecked,
  ModelsDiscovered,
  ResourcesScraped,
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
  PERFORMANCE_WEIGHT_NAMES,
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
  strategyOptionsOf,
  type TtftEstimate,
  UnknownStrategyError,
  WeightedRoundRobinStrategy,
} from './strategies';
export { BalancerMetrics } from './metrics';
export type { RequestClass } from './request-class';
export { Autobatch, COALESCED_HEADER, EmbedCoalescer, type EmbedResult, type EmbedTicket, partsFor, runEmbed, type RunningEmbed } from './autobatch';
export { AutobatchMetrics } from './metrics-autobatch';
export { ModelNodeMetrics } from './metrics-model-nodes';
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
  type AutobatchConfig,
  type BalancerConfig,
  type BucketConfig,
  type RouteClass,
  type RouteTimeouts,
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
  parseListen,
  type ListenAddress,
  resolveConfig,
  type SchemaProblem,
  type ServerTlsConfig,
  type StrategyCheck,
  type StrategyConfig,
  watchConfig,
  type WatchOptions,
} from './config';
export { stripHopByHop } from './upstream/hop-by-hop';
export { routeClassOf } from './scheduler/deadlines';
export * from './workflow';
export { WorkflowMetrics } from './metrics-workflow';
export { sleepUnless } from './until-signal';
