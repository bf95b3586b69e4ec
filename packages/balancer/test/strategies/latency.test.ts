import { LatencyStrategy } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { Estimates } from '../../src/scheduler/estimates';
import { context, node, observe, request } from './fixtures';

const table: Array<{ name: string; latencies: Record<string, number>; nodes: () => PoolNode[]; expected: string | null }> = [
  { name: 'lowest EWMA', latencies: { a: 2400, b: 800 }, nodes: () => [node('a'), node('b')], expected: 'b' },
  { name: 'skips the fastest when full', latencies: { a: 2400, b: 800, c: 1600 }, nodes: () => [node('a'), node('b', { slots: 1, inFlight: 1 }), node('c')], expected: 'c' },
  { name: 'ties: less loaded', latencies: { a: 1000, b: 1000 }, nodes: () => [node('a', { inFlight: 2 }), node('b', { inFlight: 1 })], expected: 'b' },
  { name: 'an unobserved idle node is explored', latencies: { a: 100 }, nodes: () => [node('a'), node('z')], expected: 'z' },
  { name: 'an unobserved busy node competes at the prior', latencies: { a: 100 }, nodes: () => [node('a'), node('z', { inFlight: 1 })], expected: 'a' },
  { name: 'a known node slower than the prior loses to it', latencies: { a: 9000 }, nodes: () => [node('a'), node('z', { inFlight: 1 })], expected: 'z' },
  { name: 'null when all full', latencies: { a: 100 }, nodes: () => [node('a', { slots: 1, inFlight: 1 })], expected: null },
];

describe('latency', () => {
  it.each(table)('$name', ({ latencies, nodes, expected }) => {
    const est = new Estimates();
    for (const [id, ms] of Object.entries(latencies)) observe(est, id, ms);
    expect(new LatencyStrategy().select(nodes(), request(), context({ estimates: est }))?.id ?? null).toBe(expected);
  });

  it('follows the EWMA as a node slows down', () => {
    const est = new Estimates();
    observe(est, 'a', 500);
    observe(est, 'b', 1000);
    const s = new LatencyStrategy();
    const pick = () => s.select([node('a'), node('b')], request(), context({ estimates: est }))?.id;
    expect(pick()).toBe('a');
    observe(est, 'a', 5000, 5);
    expect(pick()).toBe('b');
  });
});
