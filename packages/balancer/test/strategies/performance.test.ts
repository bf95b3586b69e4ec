import { DEFAULT_PERFORMANCE_WEIGHTS, PerformanceStrategy, type PerformanceWeights, type RoutingContext } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { Estimates } from '../../src/scheduler/estimates';
import { context, node, NOW, observe, request } from './fixtures';

interface Row {
  name: string;
  /** Latency per node (observed once each). */
  latencies?: Record<string, number>;
  /** Failures recorded per node (each after its latency sample). */
  failures?: Record<string, number>;
  weights?: Partial<PerformanceWeights>;
  nodes: () => PoolNode[];
  expected: string | null;
}

const table: Row[] = [
  { name: 'fewer failures', latencies: { a: 1000, b: 1000 }, failures: { a: 3 }, nodes: () => [node('a'), node('b')], expected: 'b' },
  { name: 'lower latency', latencies: { a: 4000, b: 1000 }, nodes: () => [node('a'), node('b')], expected: 'b' },
  { name: 'lower load', nodes: () => [node('a', { inFlight: 3 }), node('b', { inFlight: 1 })], expected: 'b' },
  { name: 'lower priority value', nodes: () => [node('a', { priority: 2 }), node('b', { priority: 0 })], expected: 'b' },
  {
    name: 'priority only nudges: a much faster node wins',
    latencies: { a: 10_000, b: 1000 },
    nodes: () => [node('a', { priority: 0 }), node('b', { priority: 5 })],
    expected: 'b',
  },
  {
    name: 'a failing fast node loses to a reliable slower one',
    latencies: { a: 500, b: 1500 },
    failures: { a: 5 },
    nodes: () => [node('a'), node('b')],
    expected: 'b',
  },
  {
    name: 'custom weights: priority only',
    latencies: { a: 500, b: 5000 },
    weights: { failure: 0, latency: 0, load: 0, priority: 1 },
    nodes: () => [node('a', { priority: 1 }), node('b', { priority: 0 })],
    expected: 'b',
  },
  { name: 'ties: id', nodes: () => [node('b'), node('a')], expected: 'a' },
  { name: 'skips full nodes', latencies: { a: 100, b: 9000 }, nodes: () => [node('a', { slots: 1, inFlight: 1 }), node('b')], expected: 'b' },
  { name: 'null when all full', nodes: () => [node('a', { slots: 1, inFlight: 1 })], expected: null },
];

describe('performance', () => {
  it.each(table)('$name', ({ latencies, failures, weights, nodes, expected }) => {
    const est = new Estimates();
    for (const [id, ms] of Object.entries(latencies ?? {})) observe(est, id, ms);
    for (const [id, n] of Object.entries(failures ?? {})) for (let i = 0; i < n; i++) est.recordFailure(id);
    const s = new PerformanceStrategy(weights);
    expect(s.select(nodes(), request(), context({ estimates: est }))?.id ?? null).toBe(expected);
  });

  it('scores by the documented formula', () => {
    const est = new Estimates();
    observe(est, 'a', 1000);
    observe(est, 'b', 4000);
    est.recordFailure('a'); // success EWMA: 0.8·1 + 0.2·0 = 0.8
    const a = node('a', { inFlight: 2, priority: 1 });
    const b = node('b', { priority: 3 });
    const w = DEFAULT_PERFORMANCE_WEIGHTS;
    // failure 0.2, latency 1000/4000, load 2/4, priority (1-1)/(3-1); no exporters: no resource terms
    expect(new PerformanceStrategy().score(a, [a, b], context({ estimates: est }))).toBeCloseTo(w.failure * 0.2 + w.latency * 0.25 + w.load * 0.5 + w.priority * 0, 10);
  });

  it("defaults to the seed's weights for the seed's five terms", () => {
    const w = DEFAULT_PERFORMANCE_WEIGHTS;
    expect([w.cpuLoad, w.gpuMemory, w.priority, w.latency, w.failure]).toEqual([0.3, 0.2, 0.1, 0.2, 0.2]);
    expect(w.cpuLoad + w.gpuMemory + w.priority + w.latency + w.failure).toBeCloseTo(1, 10);
  });
});

/** A host as the seed's `/api/stats` shows it: CPU load, free GPU memory in MB, priority, latency, success rate. */
interface SeedHost {
  cpu_load: number;
  gpu_free_mem: number;
  priority: number;
  latency_ms: number;
  success_rate: number;
}

/** The seed's score, literally (lower is better): to check that ours ranks its examples the same way. */
function seedScore(h: SeedHost): number {
  return h.cpu_load * 0.3 + (1 / h.gpu_free_mem) * 0.2 + h.priority * 0.1 + (h.latency_ms / 1000) * 0.2 + (1 - h.success_rate) * 0.2;
}

/** Our nodes for seed hosts: their signals from an exporter, latency and success rate in the estimates. */
function seedPool(hosts: Record<string, SeedHost>): { nodes: PoolNode[]; ctx: RoutingContext } {
  const est = new Estimates();
  est.latencyMs = (id) => hosts[id].latency_ms;
  est.successRate = (id) => hosts[id].success_rate;
  const nodes = Object.entries(hosts).map(([id, h]) =>
    node(id, { priority: h.priority, resources: { cpuLoadPerCore: h.cpu_load, gpuMemFreeBytes: h.gpu_free_mem * MIB, gpuMemTotalBytes: 24 * 1024 * MIB } }),
  );
  return { nodes, ctx: context({ estimates: est }) };
}

const MIB = 2 ** 20;
/** The host of the seed's `/api/stats` example. */
const SEED_HOST: SeedHost = { cpu_load: 0.45, gpu_free_mem: 8192, priority: 0, latency_ms: 156.3, success_rate: 0.982 };

describe("performance on the seed's terms", () => {
  const rows: Array<{ name: string; hosts: Record<string, SeedHost>; expected: string }> = [
    {
      name: "the seed's example host against a busier, slower, less reliable one",
      hosts: { a: SEED_HOST, b: { cpu_load: 0.9, gpu_free_mem: 2048, priority: 1, latency_ms: 312.6, success_rate: 0.95 } },
      expected: 'a',
    },
    { name: 'a loaded CPU loses', hosts: { a: { ...SEED_HOST, cpu_load: 1 }, b: { ...SEED_HOST, cpu_load: 0.1 } }, expected: 'b' },
    { name: 'nearly full GPU memory loses', hosts: { a: { ...SEED_HOST, gpu_free_mem: 512 }, b: { ...SEED_HOST, gpu_free_mem: 20480 } }, expected: 'b' },
    { name: 'failures lose', hosts: { a: { ...SEED_HOST, success_rate: 0.5 }, b: SEED_HOST }, expected: 'b' },
    { name: 'a higher priority value loses', hosts: { a: { ...SEED_HOST, priority: 2 }, b: SEED_HOST }, expected: 'b' },
    { name: 'slower loses', hosts: { a: { ...SEED_HOST, latency_ms: 900 }, b: SEED_HOST }, expected: 'b' },
    {
      name: 'an idle CPU outweighs a little more latency (0.3 against 0.2 of weight)',
      hosts: { a: { ...SEED_HOST, cpu_load: 0.95, latency_ms: 150 }, b: { ...SEED_HOST, cpu_load: 0.05, latency_ms: 200 } },
      expected: 'b',
    },
  ];

  it.each(rows)('$name', ({ hosts, expected }) => {
    const { nodes, ctx } = seedPool(hosts);
    expect(new PerformanceStrategy().select(nodes, request(), ctx)?.id).toBe(expected);
    const bySeed = Object.entries(hosts).sort(([, x], [, y]) => seedScore(x) - seedScore(y))[0][0];
    expect(bySeed).toBe(expected);
  });

  it("scores the seed's example host term by term", () => {
    const { nodes, ctx } = seedPool({ a: SEED_HOST, b: { cpu_load: 0.9, gpu_free_mem: 2048, priority: 1, latency_ms: 312.6, success_rate: 0.95 } });
    const [a, b] = nodes;
    const perf = new PerformanceStrategy();
    // a: cpu 0.45, GPU memory 2048/8192, priority 0, latency 156.3/312.6, failures 0.018, slots idle
    expect(perf.score(a, nodes, ctx)).toBeCloseTo(0.3 * 0.45 + 0.2 * 0.25 + 0.1 * 0 + 0.2 * 0.5 + 0.2 * 0.018, 10);
    // b: cpu 0.9, the least free GPU memory (1), the higher priority value (1), the slowest (1), failures 0.05
    expect(perf.score(b, nodes, ctx)).toBeCloseTo(0.3 * 0.9 + 0.2 * 1 + 0.1 * 1 + 0.2 * 1 + 0.2 * 0.05, 10);
  });

  it('caps CPU load at one per core, and a GPU with nothing free scores the full term', () => {
    const est = new Estimates();
    const over = node('a', { resources: { cpuLoadPerCore: 3, gpuMemFreeBytes: 0 } });
    const free = node('b', { resources: { cpuLoadPerCore: 0, gpuMemFreeBytes: 8 * 1024 * MIB } });
    const perf = new PerformanceStrategy({ cpuLoad: 1, gpuMemory: 1, priority: 0, latency: 0, failure: 0, load: 0 });
    expect(perf.score(over, [over, free], context({ estimates: est }))).toBe(2);
    expect(perf.score(free, [over, free], context({ estimates: est }))).toBe(0);
  });
});

describe('performance without resource signals', () => {
  const perf = new PerformanceStrategy();
  const only = (w: Partial<PerformanceWeights>) => new PerformanceStrategy({ cpuLoad: 0, gpuMemory: 0, priority: 0, latency: 0, failure: 0, load: 0, gpuUtil: 0, ...w });

  it('a node without an exporter scores the mean of the others for each resource term', () => {
    const a = node('a', { resources: { cpuLoadPerCore: 0.2, gpuMemFreeBytes: 4 * MIB, gpuUtil: 0.1 } });
    const b = node('b', { resources: { cpuLoadPerCore: 0.8, gpuMemFreeBytes: 8 * MIB, gpuUtil: 0.5 } });
    const none = node('c');
    const peers = [a, b, none];
    const ctx = context();
    expect(only({ cpuLoad: 1 }).score(none, peers, ctx)).toBeCloseTo(0.5, 10);
    // GPU memory terms: a 4/4, b 4/8; their mean 0.75.
    expect(only({ gpuMemory: 1 }).score(none, peers, ctx)).toBeCloseTo(0.75, 10);
    expect(only({ gpuUtil: 1 }).score(none, peers, ctx)).toBeCloseTo(0.3, 10);
  });

  it('neither a penalty nor a bonus: between a loaded node and an idle one, it ranks in the middle', () => {
    const loaded = node('a', { resources: { cpuLoadPerCore: 1, gpuMemFreeBytes: 512 * MIB } });
    const idle = node('b', { resources: { cpuLoadPerCore: 0, gpuMemFreeBytes: 20 * 1024 * MIB } });
    const none = node('c');
    const all = [loaded, idle, none];
    const s = (n: PoolNode) => perf.score(n, all, context());
    expect(s(idle)).toBeLessThan(s(none));
    expect(s(none)).toBeLessThan(s(loaded));
    expect(perf.select(all, request(), context())?.id).toBe('b');
    expect(perf.select([loaded, none], request(), context({}))?.id).toBe('a'); // a tie (below), to the id
  });

  it("beside one node with signals it scores that node's own: unknown load is taken for neither low nor high", () => {
    const loaded = node('a', { resources: { cpuLoadPerCore: 1, gpuMemFreeBytes: 512 * MIB } });
    const none = node('c');
    expect(perf.score(none, [loaded, none], context())).toBeCloseTo(perf.score(loaded, [loaded, none], context()), 10);
  });

  it('a busy node still counts in the mean: with the idle node full, the unknown one beats the loaded one', () => {
    const loaded = node('a', { resources: { cpuLoadPerCore: 1, gpuMemFreeBytes: 512 * MIB } });
    const idleButFull = node('b', { slots: 1, inFlight: 1, resources: { cpuLoadPerCore: 0, gpuMemFreeBytes: 20 * 1024 * MIB } });
    const none = node('c');
    expect(perf.select([loaded, idleButFull, none], request(), context())?.id).toBe('c');
  });

  it('when no node has signals the resource terms are 0 for all, and the other terms decide', () => {
    const a = node('a', { inFlight: 2 });
    const b = node('b', { inFlight: 1 });
    expect(perf.select([a, b], request(), context())?.id).toBe('b');
    const withoutResourceTerms = new PerformanceStrategy({ cpuLoad: 0, gpuMemory: 0, gpuUtil: 0 });
    for (const n of [a, b]) expect(perf.score(n, [a, b], context())).toBe(withoutResourceTerms.score(n, [a, b], context()));
  });

  it('stale signals count as none', () => {
    const stale = node('a', { staleResources: { cpuLoadPerCore: 0 } });
    const busy = node('b', { resources: { cpuLoadPerCore: 0.6 } });
    expect(stale.resources(NOW)).toBeUndefined();
    // Neutral: the mean of the fresh ones, i.e. b's own; the tie goes to the id.
    expect(only({ cpuLoad: 1 }).score(stale, [stale, busy], context())).toBeCloseTo(0.6, 10);
  });

  it('a CPU-only node is neutral on the GPU terms and judged on its CPU', () => {
    const gpu = node('a', { resources: { cpuLoadPerCore: 0.5, gpuMemFreeBytes: 1024 * MIB, gpuUtil: 0.9 } });
    const cpuOnly = node('b', { resources: { cpuLoadPerCore: 0.5 } });
    const ctx = context();
    expect(only({ gpuMemory: 1, gpuUtil: 1 }).score(cpuOnly, [gpu, cpuOnly], ctx)).toBeCloseTo(only({ gpuMemory: 1, gpuUtil: 1 }).score(gpu, [gpu, cpuOnly], ctx), 10);
  });
});
