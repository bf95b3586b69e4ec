import { ConfigError } from '../src/errors';
import { BalancerMetrics } from '../src/metrics';
import { HEALTH_GAUGE_VALUE, LLM_LATENCY_BUCKETS } from '../src/metrics-schema';
import { PoolNode } from '../src/nodes/node';
import { type NodeSnapshot, snapshotNode } from '../src/nodes/node-snapshot';

const FAMILIES: Array<[string, string]> = [
  ['requests_total', 'counter'],
  ['request_latency_seconds', 'histogram'],
  ['ttft_seconds', 'histogram'],
  ['errors_total', 'counter'],
  ['node_inflight', 'gauge'],
  ['node_max_concurrent', 'gauge'],
  ['node_health', 'gauge'],
  ['breaker_state', 'gauge'],
  ['node_loaded_models', 'gauge'],
  ['ringbuffer_remaining', 'gauge'],
  ['queue_depth', 'gauge'],
  ['queue_wait_seconds', 'histogram'],
  ['cold_loads_total', 'counter'],
  ['retries_total', 'counter'],
  ['tokens_generated_total', 'counter'],
  ['rate_limited_total', 'counter'],
  ['backpressure_total', 'counter'],
  ['queue_rejected_total', 'counter'],
  ['timeouts_total', 'counter'],
  ['health_checks_total', 'counter'],
  ['node_resource_scrapes_total', 'counter'],
  ['node_cpu_load_per_core', 'gauge'],
  ['node_memory_free_ratio', 'gauge'],
  ['node_gpu_memory_free_bytes', 'gauge'],
  ['node_gpu_memory_total_bytes', 'gauge'],
  ['node_gpu_utilization_ratio', 'gauge'],
  ['node_gpus', 'gauge'],
  ['node_resource_age_seconds', 'gauge'],
  ['requests_queued', 'gauge'],
  ['requests_running', 'gauge'],
  ['fair_queue_served_total', 'counter'],
  ['model_nodes', 'gauge'],
  ['model_nodes_serving', 'gauge'],
];

function node(id: string, over: Partial<PoolNode> = {}): PoolNode {
  const n = new PoolNode(
    { id, url: `http://${id}:11434`, models: [], maxConcurrentRequests: 4, weight: 1, enabled: true, tags: [], priority: 0 },
    { failureThreshold: 1, recoveryMs: 1000, halfOpenRequests: 1 },
  );
  return Object.assign(n, over);
}

/** Every sample line of `name` (exact family, not its _bucket/_sum/_count unless asked). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function feed(m: BalancerMetrics): void {
  m.recordRequest({ model: 'llama3.2', node: 'gpu-1', outcome: 'success', latencyMs: 2500, ttftMs: 300 });
  m.recordRequest({ model: 'Llama3.2:latest', node: 'gpu-1', outcome: 'success', latencyMs: 700 });
  m.recordRequest({ model: 'qwen3:8b', outcome: 'rejected' });
  m.recordError('ERR_UPSTREAM');
  m.recordRateLimited('client');
  m.recordBackpressure();
  m.recordQueueRejected('timeout');
  m.recordTimeout('first-byte');
  m.recordColdLoad('gpu-1', 'llama3.2');
  m.recordRetry('gpu-1');
  m.recordTokens('gpu-1', 'llama3.2', 259);
  m.recordHealthCheck('gpu-1', true);
  m.observeQueueWait(1200);
  m.setQueueDepth('llama3.2', 3);
  m.setRingBufferRemaining(1020);
  const n = node('gpu-1', { inFlight: 2, health: 'DEGRADED' });
  n.loaded.set('llama3.2:latest', { model: 'llama3.2:latest', optionsSignature: null, expiresAt: Infinity });
  n.loaded.set('old:latest', { model: 'old:latest', optionsSignature: null, expiresAt: 1 });
  n.breaker.onFailure(0);
  m.setNodeGauges(n, 1000);
}

describe('BalancerMetrics', () => {
  it.each(FAMILIES)('scrape has %s as a %s with the default prefix', async (name, type) => {
    const m = new BalancerMetrics();
    feed(m);
    const text = await m.scrape();
    expect(text).toContain(`# TYPE ollama_lb_${name} ${type}\n`);
  });

  it('records with the right labels and units', async () => {
    const m = new BalancerMetrics();
    feed(m);
    const t = await m.scrape();
    expect(samples(t, 'ollama_lb_requests_total')).toEqual([
      'ollama_lb_requests_total{model="llama3.2:latest",node="gpu-1",outcome="success"} 2',
      'ollama_lb_requests_total{model="qwen3:8b",node="none",outcome="rejected"} 1',
    ]);
    expect(t).toContain('ollama_lb_request_latency_seconds_sum{model="llama3.2:latest",node="gpu-1"} 3.2');
    expect(t).toContain('ollama_lb_ttft_seconds_count{model="llama3.2:latest",node="gpu-1"} 1');
    expect(t).toContain('ollama_lb_errors_total{type="ERR_UPSTREAM"} 1');
    expect(t).toContain('ollama_lb_rate_limited_total{limit="client"} 1');
    expect(t).toContain('ollama_lb_rate_limited_total{limit="global"} 0');
    expect(t).toContain('ollama_lb_backpressure_total 1');
    expect(t).toContain('ollama_lb_queue_rejected_total{reason="timeout"} 1');
    expect(t).toContain('ollama_lb_queue_rejected_total{reason="full"} 0');
    expect(t).toContain('ollama_lb_timeouts_total{phase="first-byte"} 1');
    expect(t).toContain('ollama_lb_cold_loads_total{node="gpu-1",model="llama3.2:latest"} 1');
    expect(t).toContain('ollama_lb_retries_total{node="gpu-1"} 1');
    expect(t).toContain('ollama_lb_tokens_generated_total{node="gpu-1",model="llama3.2:latest"} 259');
    expect(t).toContain('ollama_lb_health_checks_total{node="gpu-1",outcome="ok"} 1');
    expect(t).toContain('ollama_lb_queue_wait_seconds_sum 1.2');
    expect(t).toContain('ollama_lb_queue_depth{model="llama3.2:latest"} 3');
    expect(t).toContain('ollama_lb_ringbuffer_remaining 1020');
    expect(t).toContain('ollama_lb_node_inflight{node="gpu-1"} 2');
    expect(t).toContain('ollama_lb_node_max_concurrent{node="gpu-1"} 4');
    expect(t).toContain('ollama_lb_node_health{node="gpu-1"} 0.5');
    expect(t).toContain('ollama_lb_breaker_state{node="gpu-1"} 2');
    expect(t).toContain('ollama_lb_node_loaded_models{node="gpu-1"} 1');
  });

  it('histograms reach minutes, starting at 50 ms', async () => {
    expect(LLM_LATENCY_BUCKETS[0]).toBe(0.05);
    expect(LLM_LATENCY_BUCKETS[LLM_LATENCY_BUCKETS.length - 1]).toBeGreaterThanOrEqual(300);
    const m = new BalancerMetrics();
    m.recordRequest({ model: 'm', node: 'n', outcome: 'success', latencyMs: 200_000 });
    const t = await m.scrape();
    expect(t).toContain('ollama_lb_request_latency_seconds_bucket{le="0.05",model="m:latest",node="n"} 0');
    expect(t).toContain('ollama_lb_request_latency_seconds_bucket{le="204.8",model="m:latest",node="n"} 1');
    expect(t).toContain('ollama_lb_request_latency_seconds_bucket{le="102.4",model="m:latest",node="n"} 0');
  });

  it.each([
    ['HEALTHY', 1],
    ['DEGRADED', 0.5],
    ['UNHEALTHY', 0],
    ['UNKNOWN', -1],
  ] as const)('node_health for %s is %p', async (health, value) => {
    expect(HEALTH_GAUGE_VALUE[health]).toBe(value);
    const m = new BalancerMetrics();
    m.setNodeGauges(node('n', { health }));
    expect(await m.scrape()).toContain(`ollama_lb_node_health{node="n"} ${value}\n`);
  });

  it('removeNode drops every series of that node and only those', async () => {
    const m = new BalancerMetrics();
    feed(m);
    m.recordRequest({ model: 'llama3.2', node: 'gpu-2', outcome: 'error', latencyMs: 10 });
    m.setNodeGauges(node('gpu-2'));
    m.removeNode('gpu-1');
    const t = await m.scrape();
    expect(t).not.toContain('node="gpu-1"');
    expect(t).toContain('ollama_lb_requests_total{model="llama3.2:latest",node="gpu-2",outcome="error"} 1');
    expect(t).toContain('ollama_lb_node_inflight{node="gpu-2"} 0');
    expect(t).toContain('node="none"');
    m.removeNode('never-seen');
    // The node may come back, and is reported afresh.
    m.recordRetry('gpu-1');
    expect(await m.scrape()).toContain('ollama_lb_retries_total{node="gpu-1"} 1');
  });

  it('syncUtilization writes both windows per node and the imbalance; a node that left loses its series', async () => {
    const m = new BalancerMetrics();
    const u = (lastMinute: number, sinceStart: number) => ({ busySlotMs: 0, capacitySlotMs: 0, lastMinute, sinceStart });
    m.syncUtilization({ nodes: { a: u(1, 0.5), b: u(0, 0.25) }, imbalance: { lastMinute: 2, sinceStart: 0.5, byModel: {} } });
    let t = await m.scrape();
    expect(t).toContain('# TYPE ollama_lb_node_utilization gauge\n');
    expect(samples(t, 'ollama_lb_node_utilization').sort()).toEqual([
      'ollama_lb_node_utilization{node="a",window="1m"} 1',
      'ollama_lb_node_utilization{node="a",window="start"} 0.5',
      'ollama_lb_node_utilization{node="b",window="1m"} 0',
      'ollama_lb_node_utilization{node="b",window="start"} 0.25',
    ]);
    expect(samples(t, 'ollama_lb_load_imbalance').sort()).toEqual(['ollama_lb_load_imbalance{window="1m"} 2', 'ollama_lb_load_imbalance{window="start"} 0.5']);
    // b leaves the pool, and no model has two nodes any more.
    m.syncUtilization({ nodes: { a: u(1, 0.5) }, imbalance: { lastMinute: null, sinceStart: null, byModel: {} } });
    t = await m.scrape();
    expect(samples(t, 'ollama_lb_node_utilization')).toHaveLength(2);
    expect(t).not.toContain('node="b"');
    expect(samples(t, 'ollama_lb_load_imbalance')).toEqual([]);
  });

  it('model nodes: per model, the nodes that have it and those that can serve it now; a model no node has loses its series', async () => {
    const m = new BalancerMetrics();
    const snap = (id: string, models: string[], over: Partial<NodeSnapshot> = {}): NodeSnapshot => ({ ...snapshotNode(node(id, { health: 'HEALTHY' })), models, ...over });
    m.modelNodes.sync([
      snap('a', ['llama3.2:latest', 'qwen3:8b']),
      snap('b', ['llama3.2:latest'], { draining: true }),
      snap('c', ['llama3.2:latest'], { breakerState: 'open' }),
      snap('d', ['qwen3:8b'], { health: 'UNHEALTHY' }),
      snap('e', ['qwen3:8b'], { adminDisabled: true }),
      snap('f', ['gone:latest'], { removed: true }),
    ]);
    let t = await m.scrape();
    expect(samples(t, 'ollama_lb_model_nodes').sort()).toEqual(['ollama_lb_model_nodes{model="llama3.2:latest"} 3', 'ollama_lb_model_nodes{model="qwen3:8b"} 3']);
    expect(samples(t, 'ollama_lb_model_nodes_serving').sort()).toEqual([
      'ollama_lb_model_nodes_serving{model="llama3.2:latest"} 1',
      'ollama_lb_model_nodes_serving{model="qwen3:8b"} 1',
    ]);
    // a goes: no node can serve either model; then qwen3 leaves the pool with d and e.
    m.modelNodes.sync([snap('b', ['llama3.2:latest'], { draining: true }), snap('d', ['qwen3:8b'], { health: 'UNHEALTHY' })]);
    t = await m.scrape();
    expect(samples(t, 'ollama_lb_model_nodes_serving').sort()).toEqual([
      'ollama_lb_model_nodes_serving{model="llama3.2:latest"} 0',
      'ollama_lb_model_nodes_serving{model="qwen3:8b"} 0',
    ]);
    m.modelNodes.sync([snap('b', ['llama3.2:latest'])]);
    t = await m.scrape();
    expect(samples(t, 'ollama_lb_model_nodes')).toEqual(['ollama_lb_model_nodes{model="llama3.2:latest"} 1']);
    expect(samples(t, 'ollama_lb_model_nodes_serving')).toEqual(['ollama_lb_model_nodes_serving{model="llama3.2:latest"} 1']);
  });

  it('syncClasses writes queued and running requests by class, and counts the served totals per key and the preemptions by their growth', async () => {
    const m = new BalancerMetrics();
    let t = await m.scrape();
    expect(samples(t, 'ollama_lb_requests_queued').sort()).toEqual(['ollama_lb_requests_queued{class="batch"} 0', 'ollama_lb_requests_queued{class="interactive"} 0']);
    m.syncClasses({ queued: { interactive: 3, batch: 40 }, running: { interactive: 2, batch: 1 }, preempted: 2 }, { light: 5, flood: 40 });
    m.syncClasses({ queued: { interactive: 1, batch: 38 }, running: { interactive: 3, batch: 1 }, preempted: 5 }, { light: 7, flood: 41, anonymous: 1 });
    t = await m.scrape();
    expect(samples(t, 'ollama_lb_requests_queued').sort()).toEqual(['ollama_lb_requests_queued{class="batch"} 38', 'ollama_lb_requests_queued{class="interactive"} 1']);
    expect(samples(t, 'ollama_lb_requests_running').sort()).toEqual(['ollama_lb_requests_running{class="batch"} 1', 'ollama_lb_requests_running{class="interactive"} 3']);
    expect(samples(t, 'ollama_lb_fair_queue_served_total').sort()).toEqual([
      'ollama_lb_fair_queue_served_total{key="anonymous"} 1',
      'ollama_lb_fair_queue_served_total{key="flood"} 41',
      'ollama_lb_fair_queue_served_total{key="light"} 7',
    ]);
    expect(samples(t, 'ollama_lb_batch_preemptions_total')).toEqual(['ollama_lb_batch_preemptions_total 5']);
  });

  it('has its own registry: two instances with one prefix never collide', async () => {
    const a = new BalancerMetrics();
    const b = new BalancerMetrics();
    a.recordBackpressure();
    expect(await a.scrape()).toContain('ollama_lb_backpressure_total 1');
    expect(await b.scrape()).toContain('ollama_lb_backpressure_total 0');
    const { register } = await import('prom-client');
    expect(register.getSingleMetric('ollama_lb_backpressure_total')).toBeUndefined();
  });

  it.each([
    ['ollama_lb', 'ollama_lb_'],
    ['myapp_', 'myapp_'],
    ['', ''],
  ])('prefix %p becomes %p', async (given, used) => {
    const m = new BalancerMetrics({ prefix: given });
    expect(m.prefix).toBe(used);
    expect(await m.scrape()).toContain(`# TYPE ${used}requests_total counter`);
  });

  it('rejects a prefix Prometheus would not accept', () => {
    expect(() => new BalancerMetrics({ prefix: 'bad-prefix' })).toThrow(ConfigError);
  });

  it('caps distinct model labels, folding the rest into "other"', async () => {
    const m = new BalancerMetrics({ maxModelLabels: 2 });
    for (const model of ['a', 'b', 'c', 'd', 'A:latest']) m.recordRequest({ model, node: 'n', outcome: 'rejected' });
    const lines = samples(await m.scrape(), 'ollama_lb_requests_total');
    expect(lines).toEqual([
      'ollama_lb_requests_total{model="a:latest",node="n",outcome="rejected"} 2',
      'ollama_lb_requests_total{model="b:latest",node="n",outcome="rejected"} 1',
      'ollama_lb_requests_total{model="other",node="n",outcome="rejected"} 2',
    ]);
  });

  it('content type is Prometheus text', () => {
    expect(new BalancerMetrics().contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('default process metrics are opt-in and carry the prefix', async () => {
    expect(await new BalancerMetrics().scrape()).not.toContain('process_cpu');
    const m = new BalancerMetrics({ defaultMetrics: true });
    const t = await m.scrape();
    expect(t).toContain('ollama_lb_process_cpu_user_seconds_total');
    expect(t).toContain('ollama_lb_nodejs_eventloop_lag_seconds');
  });

  it.each([
    ['after removeNode', (m: BalancerMetrics) => m.removeNode('n')],
    ['after reset', (m: BalancerMetrics) => m.reset()],
  ])('node gauges follow every change, and come back whole %s', async (_label, forget) => {
    const m = new BalancerMetrics();
    const n = node('n', { inFlight: 1 });
    m.setNodeGauges(n);
    n.inFlight = 3;
    m.setNodeGauges(n);
    n.inFlight = 0;
    n.health = 'UNHEALTHY';
    m.setNodeGauges(n);
    let t = await m.scrape();
    expect(samples(t, 'ollama_lb_node_inflight')).toEqual(['ollama_lb_node_inflight{node="n"} 0']);
    expect(samples(t, 'ollama_lb_node_health')).toEqual(['ollama_lb_node_health{node="n"} 0']);
    forget(m);
    expect(samples(await m.scrape(), 'ollama_lb_node_max_concurrent')).toEqual([]);
    m.setNodeGauges(n); // nothing changed on the node, yet every gauge is reported again
    t = await m.scrape();
    expect(samples(t, 'ollama_lb_node_max_concurrent')).toEqual(['ollama_lb_node_max_concurrent{node="n"} 4']);
    expect(samples(t, 'ollama_lb_node_health')).toEqual(['ollama_lb_node_health{node="n"} 0']);
  });

  it('reset zeroes counters', async () => {
    const m = new BalancerMetrics();
    m.recordBackpressure();
    m.recordRateLimited('node');
    m.recordRetry('gpu-1');
    m.reset();
    const t = await m.scrape();
    expect(t).toContain('ollama_lb_backpressure_total 0');
    expect(t).toContain('ollama_lb_rate_limited_total{limit="node"} 0');
    expect(t).not.toContain('gpu-1');
  });

  it('node resources: scrapes by outcome from 0, gauges only for the signals a node has, gone with the node', async () => {
    const m = new BalancerMetrics();
    m.resources.recordScrape('a', 'ok');
    m.resources.recordScrape('b', 'timeout');
    m.resources.sync([{ id: 'a', resources: { cpuLoadPerCore: 0.5, gpuMemFreeBytes: 2048, gpuMemTotalBytes: 4096, gpuUtil: 0.25, gpuCount: 1, ageMs: 1500 } }, { id: 'b' }]);
    let t = await m.scrape();
    expect(samples(t, 'ollama_lb_node_resource_scrapes_total').filter((l) => l.includes('node="b"'))).toEqual(
      ['ok', 'empty', 'refused', 'timeout', 'http', 'malformed', 'network'].map((o) => `ollama_lb_node_resource_scrapes_total{node="b",outcome="${o}"} ${o === 'timeout' ? 1 : 0}`),
    );
    expect(samples(t, 'ollama_lb_node_cpu_load_per_core')).toEqual(['ollama_lb_node_cpu_load_per_core{node="a"} 0.5']);
    expect(samples(t, 'ollama_lb_node_resource_age_seconds')).toEqual(['ollama_lb_node_resource_age_seconds{node="a"} 1.5']);
    expect(samples(t, 'ollama_lb_node_memory_free_ratio')).toEqual([]); // a has no memory signal, b none at all
    // a's scrape failed since: its gauges go; b left the pool: its counters go.
    m.resources.sync([{ id: 'a' }]);
    t = await m.scrape();
    expect(samples(t, 'ollama_lb_node_cpu_load_per_core')).toEqual([]);
    expect(samples(t, 'ollama_lb_node_gpus')).toEqual([]);
    expect(t).not.toContain('node="b"');
    expect(samples(t, 'ollama_lb_node_resource_scrapes_total')).toContain('ollama_lb_node_resource_scrapes_total{node="a",outcome="ok"} 1');
  });
});
