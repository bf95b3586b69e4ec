import { DEFAULT_PERFORMANCE_WEIGHTS, PerformanceStrategy, type PerformanceWeights } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { Estimates } from '../../src/scheduler/estimates';
import { context, node, observe, request } from './fixtures';

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
    // failure 0.2, latency 1000/4000, load 2/4, priority (1-1)/(3-1)
    expect(new PerformanceStrategy().score(a, [a, b], context({ estimates: est }))).toBeCloseTo(w.failure * 0.2 + w.latency * 0.25 + w.load * 0.5 + w.priority * 0, 10);
    expect(w.failure + w.latency + w.load + w.priority).toBeCloseTo(1, 10);
  });
});
