import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, validateMetricName } from 'prom-client';
import { ConfigError } from './errors';
import { ResourceMetrics } from './metrics-resources';
import { AutobatchMetrics } from './metrics-autobatch';
import { WorkflowMetrics } from './metrics-workflow';
import type { PoolUtilization } from './scheduler/load-imbalance';
import { UtilizationMetrics } from './metrics-utilization';
import { ClassMetrics } from './metrics-classes';
import type { ClassCounts } from './scheduler/pool-view';
import type { SuspicionCause } from './scheduler/observer';
import type { FallbackReason } from './scheduler/hint-rules';
import { ModelLabels } from './metrics-model-labels';
import { ModelNodeMetrics } from './metrics-model-nodes';
import { BREAKER_GAUGE_VALUE, HEALTH_GAUGE_VALUE, LLM_LATENCY_BUCKETS, type MetricsOptions, type NodeGaugeInput, type RequestRecord, type TimeoutPhase } from './metrics-schema';

type Labels = Record<string, string>;
interface Removable {
  remove(labels: Labels): void;
}

const NO_NODE = 'none';

/**
 * The balancer's Prometheus metrics, on a `Registry` of its own (never prom-client's global one, so
 * several pipelines in one process, or the host application's own metrics, never collide).
 * Written by the completion stage and the scheduler through the typed methods below.
 *
 * Families (each name carries the prefix, `ollama_lb_` by default):
 * `requests_total{model,node,outcome}`, `request_latency_seconds{model,node}`,
 * `ttft_seconds{model,node}`, `errors_total{type}`, `node_inflight{node}`,
 * `node_max_concurrent{node}`, `node_health{node}`, `breaker_state{node}`,
 * `node_loaded_models{node}`, `ringbuffer_remaining`, `queue_depth{model}`, `queue_wait_seconds`,
 * `cold_loads_total{node,model}`, `retries_total{node}`, `tokens_generated_total{node,model}`,
 * `rate_limited_total{limit}`, `backpressure_total`, `queue_rejected_total{reason}`,
 * `timeouts_total{phase}`, `health_checks_total{node,outcome}`, `node_suspected_total{node,cause}`,
 * and the node resource families of {@link ResourceMetrics} (`node_resource_scrapes_total{node,outcome}`,
 * `node_cpu_load_per_core{node}`, `node_gpu_memory_free_bytes{node}`, …),
 * `node_utilization{node,window}`, `load_imbalance{window}` (window `1m` or `start`),
 * `fallbacks_total{model,fallback,reason}`, `model_nodes{model}` and `model_nodes_serving{model}`
 * ({@link ModelNodeMetrics}), the class and fair-queue families of {@link ClassMetrics}
 * (`requests_queued{class}`, `requests_running{class}`, `fair_queue_served_total{key}`, `batch_preemptions_total`), and the
 * embedding autobatch families of {@link AutobatchMetrics} (`embed_coalesced_calls_total`, `embed_batch_size`, …).
 *
 * @example
 * const metrics = new BalancerMetrics({ prefix: config.metrics.prefix });
 * metrics.recordRequest({ model: 'llama3.2', node: 'gpu-1', outcome: 'success', latencyMs: 2300, ttftMs: 410 });
 * metrics.setNodeGauges(node);
 * res.setHeader('content-type', metrics.contentType);
 * res.end(await metrics.scrape());
 */
export class BalancerMetrics {
  /** The dedicated registry (e.g. to merge worker metrics with `AggregatorRegistry.aggregate`). */
  readonly registry = new Registry();
  /** The prefix in use, with its trailing `_`. */
  readonly prefix: string;
  /** Scrapes of the nodes' exporters and the resource signals they gave. */
  readonly resources: ResourceMetrics;
  /** The embedding autobatch families (`metrics-autobatch.ts`). */
  readonly autobatch: AutobatchMetrics;
  /** The workflow families (`metrics-workflow.ts`). */
  readonly workflow: WorkflowMetrics;
  /** Nodes per model, and those of them serving (`metrics-model-nodes.ts`). */
  readonly modelNodes: ModelNodeMetrics;

  private readonly requests: Counter<'model' | 'node' | 'outcome'>;
  private readonly latency: Histogram<'model' | 'node'>;
  private readonly ttft: Histogram<'model' | 'node'>;
  private readonly errors: Counter<'type'>;
  private readonly inflight: Gauge<'node'>;
  private readonly maxConcurrent: Gauge<'node'>;
  private readonly health: Gauge<'node'>;
  private readonly breaker: Gauge<'node'>;
  private readonly loadedModels: Gauge<'node'>;
  private readonly ringRemaining: Gauge;
  private readonly eventOverflowPeak: Gauge;
  private readonly outcomesDropped: Counter;
  private outcomesDroppedSeen = 0;
  private readonly leasesHeld: Gauge;
  private readonly leasesExpired: Counter;
  private leasesExpiredSeen = 0;
  /** Models whose queue depth was last set non-zero (set to 0 when they leave the queue). */
  private readonly queuedModels = new Set<string>();
  private readonly queueDepth: Gauge<'model'>;
  private readonly queueWait: Histogram;
  private readonly coldLoads: Counter<'node' | 'model'>;
  private readonly retries: Counter<'node'>;
  private readonly tokens: Counter<'node' | 'model'>;
  private readonly rateLimited: Counter<'limit'>;
  private readonly backpressure: Counter;
  private readonly queueRejected: Counter<'reason'>;
  private readonly timeouts: Counter<'phase'>;
  private readonly healthChecks: Counter<'node' | 'outcome'>;
  private readonly suspected: Counter<'node' | 'cause'>;
  private readonly utilization: UtilizationMetrics;
  private readonly classes: ClassMetrics;
  private readonly fallbacks: Counter<'model' | 'fallback' | 'reason'>;

  /** The `model` label values, capped at `maxModelLabels` distinct models. */
  private readonly models: ModelLabels;
  /** Every label set that names a node, so {@link removeNode} can drop exactly those. */
  private readonly nodeSeries = new Map<string, Map<Removable, Map<string, Labels>>>();
  /** What `setNodeGauges` last wrote per node (NaN: never), so that it writes only changes. */
  private readonly lastNodeGauges = new Map<string, { labels: { node: string }; values: number[] }>();

  constructor(opts: MetricsOptions = {}) {
    this.prefix = normalizePrefix(opts.prefix ?? 'ollama_lb_');
    this.models = new ModelLabels(Math.max(1, opts.maxModelLabels ?? 256));
    const buckets = [...(opts.latencyBuckets ?? LLM_LATENCY_BUCKETS)];
    const reg = [this.registry];
    const p = this.prefix;

    this.requests = new Counter({ name: `${p}requests_total`, help: 'Requests finished, by model, node and outcome.', labelNames: ['model', 'node', 'outcome'], registers: reg });
    this.latency = new Histogram({ name: `${p}request_latency_seconds`, help: 'Arrival to last byte.', labelNames: ['model', 'node'], buckets, registers: reg });
    this.ttft = new Histogram({ name: `${p}ttft_seconds`, help: 'Arrival to first token.', labelNames: ['model', 'node'], buckets, registers: reg });
    this.errors = new Counter({ name: `${p}errors_total`, help: 'Errors, by type (the error code).', labelNames: ['type'], registers: reg });
    this.inflight = new Gauge({ name: `${p}node_inflight`, help: 'Requests in flight on the node.', labelNames: ['node'], registers: reg });
    this.maxConcurrent = new Gauge({ name: `${p}node_max_concurrent`, help: 'Slots of the node.', labelNames: ['node'], registers: reg });
    this.health = new Gauge({ name: `${p}node_health`, help: 'Node health: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown.', labelNames: ['node'], registers: reg });
    this.breaker = new Gauge({ name: `${p}breaker_state`, help: 'Circuit breaker: 0 closed, 1 half-open, 2 open.', labelNames: ['node'], registers: reg });
    this.loadedModels = new Gauge({ name: `${p}node_loaded_models`, help: 'Models resident on the node (unexpired).', labelNames: ['node'], registers: reg });
    this.ringRemaining = new Gauge({ name: `${p}ringbuffer_remaining`, help: 'Free slots in the request ring.', registers: reg });
    this.outcomesDropped = new Counter({
      name: `${p}outcome_records_dropped_total`,
      help: 'Request outcome records lost to a full outcome ring (their metrics are missing).',
      registers: reg,
    });
    this.leasesHeld = new Gauge({ name: `${p}leases_held`, help: 'Leases (pipeline.select) holding a node slot now.', registers: reg });
    this.leasesExpired = new Counter({
      name: `${p}leases_expired_total`,
      help: 'Leases not released within their TTL (leases.ttlMs), whose slot the balancer took back.',
      registers: reg,
    });
    this.eventOverflowPeak = new Gauge({
      name: `${p}scheduler_event_overflow_peak`,
      help: 'Most scheduler events that found the ring full and waited beside it at once (none is dropped).',
      registers: reg,
    });
    this.queueDepth = new Gauge({ name: `${p}queue_depth`, help: 'Requests waiting for a slot, by model.', labelNames: ['model'], registers: reg });
    this.queueWait = new Histogram({ name: `${p}queue_wait_seconds`, help: 'Time requests waited for a slot.', buckets, registers: reg });
    this.coldLoads = new Counter({ name: `${p}cold_loads_total`, help: 'Requests that made the node load the model.', labelNames: ['node', 'model'], registers: reg });
    this.retries = new Counter({ name: `${p}retries_total`, help: 'Retries after a failure on the node.', labelNames: ['node'], registers: reg });
    this.tokens = new Counter({ name: `${p}tokens_generated_total`, help: 'Tokens generated (eval_count).', labelNames: ['node', 'model'], registers: reg });
    this.rateLimited = new Counter({ name: `${p}rate_limited_total`, help: 'Requests refused by a rate limit.', labelNames: ['limit'], registers: reg });
    this.backpressure = new Counter({ name: `${p}backpressure_total`, help: 'Requests refused because the ring was full.', registers: reg });
    this.queueRejected = new Counter({
      name: `${p}queue_rejected_total`,
      help: 'Requests refused by the wait queue: full, or waited too long.',
      labelNames: ['reason'],
      registers: reg,
    });
    this.timeouts = new Counter({ name: `${p}timeouts_total`, help: 'Upstream timeouts, by phase.', labelNames: ['phase'], registers: reg });
    this.suspected = new Counter({
      name: `${p}node_suspected_total`,
      help: 'Times a node was suspected of hanging and probed at once, by cause: first-byte, stall, connect (learned deadlines missed), overdue (a non-streamed answer past its expected time).',
      labelNames: ['node', 'cause'],
      registers: reg,
    });
    this.utilization = new UtilizationMetrics(this.registry, p);
    this.classes = new ClassMetrics(this.registry, p);
    this.fallbacks = new Counter({
      name: `${p}fallbacks_total`,
      help: 'Requests switched to their fallback model, by the model asked for, the fallback, and why: not_installed, unavailable (its nodes down, breaker open, disabled or draining), deadline (none could start it before its queue deadline), budget (none could meet its latency budget).',
      labelNames: ['model', 'fallback', 'reason'],
      registers: reg,
    });
    this.healthChecks = new Counter({ name: `${p}health_checks_total`, help: 'Health checks, by node and outcome.', labelNames: ['node', 'outcome'], registers: reg });

    this.resources = new ResourceMetrics(this.registry, p);
    this.autobatch = new AutobatchMetrics(this.registry, p);
    this.workflow = new WorkflowMetrics(this.registry, p);
    this.modelNodes = new ModelNodeMetrics(this.registry, p, (model) => this.models.of(model));

    this.seedZeros();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: p });
  }

  /** The Content-Type of {@link scrape}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts a finished request and observes its latency and time to first token. */
  recordRequest(r: RequestRecord): void {
    const model = this.models.of(r.model);
    const node = r.node ?? NO_NODE;
    this.requests.inc(this.track(this.requests, { model, node, outcome: r.outcome }));
    if (r.latencyMs !== undefined) this.latency.observe(this.track(this.latency, { model, node }), r.latencyMs / 1000);
    if (r.ttftMs !== undefined) this.ttft.observe(this.track(this.ttft, { model, node }), r.ttftMs / 1000);
  }

  /** Counts an error by type: pass the error's stable `code` (e.g. `ERR_UPSTREAM`). */
  recordError(type: string): void {
    this.errors.inc({ type });
  }

  /** A request refused by the global, per-client or per-node rate limit. */
  recordRateLimited(limit: 'global' | 'client' | 'node'): void {
    this.rateLimited.inc({ limit });
  }

  /** A request refused at admission because the ring was full. */
  recordBackpressure(): void {
    this.backpressure.inc();
  }

  /** A request refused by the wait queue: it was full, or the request waited past `maxWaitMs`. */
  recordQueueRejected(reason: 'full' | 'timeout'): void {
    this.queueRejected.inc({ reason });
  }

  /** An upstream timeout in one phase. */
  recordTimeout(phase: TimeoutPhase): void {
    this.timeouts.inc({ phase });
  }

  /** The node had to load the model for a request (a non-zero `load_duration`, or predicted cold). */
  recordColdLoad(node: string, model: string): void {
    this.coldLoads.inc(this.track(this.coldLoads, { node, model: this.models.of(model) }));
  }

  /** A request was switched from `model` to its `fallback` model (see `fallbacks_total`). */
  recordFallback(model: string, fallback: string, reason: FallbackReason): void {
    this.fallbacks.inc({ model: this.models.of(model), fallback: this.models.of(fallback), reason });
  }

  /** A node was suspected of hanging (see `node_suspected_total`). */
  recordSuspected(node: string, cause: SuspicionCause): void {
    this.suspected.inc(this.track(this.suspected, { node, cause }));
  }

  /** A request is retried after failing on `node`. */
  recordRetry(node: string): void {
    this.retries.inc(this.track(this.retries, { node }));
  }

  /** Tokens generated by a request (the final chunk's `eval_count`). */
  recordTokens(node: string, model: string, count: number): void {
    if (count > 0) this.tokens.inc(this.track(this.tokens, { node, model: this.models.of(model) }), count);
  }

  /** A health check of `node` finished. */
  recordHealthCheck(node: string, ok: boolean): void {
    this.healthChecks.inc(this.track(this.healthChecks, { node, outcome: ok ? 'ok' : 'failed' }));
  }

  /** How long a request waited for a slot (also for requests that never waited: 0). */
  observeQueueWait(ms: number): void {
    this.queueWait.observe(ms / 1000);
  }

  /** Requests waiting for `model` now. */
  setQueueDepth(model: string, depth: number): void {
    this.queueDepth.set({ model: this.models.of(model) }, depth);
  }

  /** The most scheduler events that have waited beside a full ring at once (see EventInlet). */
  setEventOverflowPeak(n: number): void {
    this.eventOverflowPeak.set(n);
  }

  /** The outcome publisher's count of records lost to a full ring (monotonic). */
  setOutcomesDropped(total: number): void {
    if (total > this.outcomesDroppedSeen) this.outcomesDropped.inc(total - this.outcomesDroppedSeen);
    this.outcomesDroppedSeen = total;
  }

  /** Leases held now, and the scheduler's count of those taken back at their TTL (monotonic). */
  setLeases(held: number, expiredTotal: number): void {
    this.leasesHeld.set(held);
    if (expiredTotal > this.leasesExpiredSeen) this.leasesExpired.inc(expiredTotal - this.leasesExpiredSeen);
    this.leasesExpiredSeen = expiredTotal;
  }

  /** Every node's gauges from a snapshot of the pool; the series of nodes no longer in it go. */
  syncNodeGauges(nodes: readonly NodeGaugeInput[], now = Date.now()): void {
    const present = new Set<string>();
    for (const n of nodes) {
      present.add(n.id);
      this.setNodeGauges(n, now);
    }
    for (const id of [...this.nodeSeries.keys()]) if (!present.has(id)) this.removeNode(id);
  }

  /** Queue depth per model from a snapshot of the queue; models that left it read 0. */
  syncQueueDepths(byModel: Readonly<Record<string, number>>): void {
    for (const model of this.queuedModels) if (!(model in byModel)) this.setQueueDepth(model, 0);
    this.queuedModels.clear();
    for (const [model, depth] of Object.entries(byModel)) {
      this.queuedModels.add(model);
      this.setQueueDepth(model, depth);
    }
  }

  /** Utilization per node and the load imbalance, read at scrape time from a view of the pool. */
  syncUtilization(u: PoolUtilization): void {
    this.utilization.sync(u);
  }

  /** Queued and running requests by class, and the requests bound per API key, read at scrape time from a view of the pool. */
  syncClasses(classes: ClassCounts, served: Readonly<Record<string, number>>): void {
    this.classes.sync(classes, served);
  }

  /** Free slots left in the request ring. */
  setRingBufferRemaining(n: number): void {
    this.ringRemaining.set(n);
  }

  /**
   * Refreshes every per-node gauge from the scheduler's view of the node. Called on every bind and
   * every completion, so only the values that changed are written: per request that is the
   * in-flight gauge alone, not five labelled writes.
   */
  setNodeGauges(node: NodeGaugeInput, now = Date.now()): void {
    let last = this.lastNodeGauges.get(node.id);
    if (last === undefined) {
      const labels = { node: node.id };
      for (const g of this.nodeGauges()) this.track(g, labels);
      last = { labels, values: [NaN, NaN, NaN, NaN, NaN] };
      this.lastNodeGauges.set(node.id, last);
    }
    let loaded = 0;
    for (const m of node.loadedModels) if (m.expiresAt > now) loaded++;
    const gauges = this.nodeGauges();
    const values = [node.inFlight, node.maxConcurrent, HEALTH_GAUGE_VALUE[node.health], BREAKER_GAUGE_VALUE[node.breakerState], loaded];
    for (let i = 0; i < gauges.length; i++) {
      if (last.values[i] === values[i]) continue;
      gauges[i].set(last.labels, values[i]);
      last.values[i] = values[i];
    }
  }

  /** The per-node gauges, in the order of the values `setNodeGauges` keeps. */
  private nodeGauges(): readonly Gauge<'node'>[] {
    return (this.nodeGaugeList ??= [this.inflight, this.maxConcurrent, this.health, this.breaker, this.loadedModels]);
  }

  private nodeGaugeList?: readonly Gauge<'node'>[];

  /** Drops every series of a node that left the pool, so it stops being reported. */
  removeNode(id: string): void {
    const series = this.nodeSeries.get(id);
    if (!series) return;
    for (const [metric, labelSets] of series) for (const labels of labelSets.values()) metric.remove(labels);
    this.nodeSeries.delete(id);
    this.lastNodeGauges.delete(id);
  }

  /** Zeroes every metric and forgets every labelled series (tests, or an admin reset). */
  reset(): void {
    this.registry.resetMetrics();
    this.resources.reset();
    this.nodeSeries.clear();
    this.lastNodeGauges.clear();
    this.utilization.reset();
    this.classes.reset();
    this.modelNodes.reset();
    this.seedZeros();
  }

  // The bounded label values are pre-created, so dashboards and alerts see 0 rather than
  // "no data" before the first event.
  private seedZeros(): void {
    this.backpressure.inc(0);
    this.ringRemaining.set(0);
    this.eventOverflowPeak.set(0);
    this.outcomesDropped.inc(0);
    this.leasesHeld.set(0);
    this.leasesExpired.inc(0);
    for (const limit of ['global', 'client', 'node']) this.rateLimited.inc({ limit }, 0);
    for (const reason of ['full', 'timeout']) this.queueRejected.inc({ reason }, 0);
    for (const phase of ['connect', 'first-byte', 'idle', 'total']) this.timeouts.inc({ phase }, 0);
  }

  private track<L extends Labels>(metric: Removable, labels: L): L {
    const node = labels.node;
    if (node === undefined || node === NO_NODE) return labels;
    let series = this.nodeSeries.get(node);
    if (!series) this.nodeSeries.set(node, (series = new Map()));
    let perMetric = series.get(metric);
    if (!perMetric) series.set(metric, (perMetric = new Map()));
    const key = `${labels.model ?? ''}\u0000${labels.outcome ?? ''}`;
    if (!perMetric.has(key)) perMetric.set(key, { ...labels });
    return labels;
  }
}

function normalizePrefix(prefix: string): string {
  const p = prefix === '' || prefix.endsWith('_') ? prefix : `${prefix}_`;
  if (!validateMetricName(`${p}x`)) {
    throw new ConfigError('invalid metrics prefix', [{ path: 'metrics.prefix', message: `"${prefix}" is not a valid Prometheus name prefix` }]);
  }
  return p;
}
