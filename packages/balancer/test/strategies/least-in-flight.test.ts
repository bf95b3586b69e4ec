import { LeastInFlightStrategy } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { context, MODEL, node, request } from './fixtures';

const table: Array<{ name: string; nodes: () => PoolNode[]; expected: string | null }> = [
  { name: 'fewest in flight', nodes: () => [node('a', { inFlight: 2 }), node('b', { inFlight: 1 })], expected: 'b' },
  { name: 'relative to capacity', nodes: () => [node('a', { slots: 8, inFlight: 2 }), node('b', { slots: 2, inFlight: 1 })], expected: 'a' },
  { name: 'idle small node beats busy big node', nodes: () => [node('a', { slots: 8, inFlight: 1 }), node('b', { slots: 1 })], expected: 'b' },
  { name: 'ties: lower priority value', nodes: () => [node('a', { inFlight: 1, priority: 1 }), node('b', { inFlight: 1, priority: 0 })], expected: 'b' },
  { name: 'ties: then id', nodes: () => [node('b', { inFlight: 1 }), node('a', { inFlight: 1 })], expected: 'a' },
  { name: 'skips a full node', nodes: () => [node('a', { slots: 1, inFlight: 1 }), node('b', { slots: 4, inFlight: 3 })], expected: 'b' },
  {
    name: 'skips a node full for this model',
    nodes: () => [node('a', { slots: 8, inFlight: 1, perModel: { [MODEL]: 1 } }), node('b', { slots: 4, inFlight: 3 })],
    expected: 'b',
  },
  { name: 'ignores hotness', nodes: () => [node('a', { inFlight: 1, hot: { [MODEL]: '' } }), node('b')], expected: 'b' },
  { name: 'null when all full', nodes: () => [node('a', { slots: 1, inFlight: 1 })], expected: null },
];

describe('least-in-flight', () => {
  it.each(table)('$name', ({ nodes, expected }) => {
    expect(new LeastInFlightStrategy().select(nodes(), request(), context())?.id ?? null).toBe(expected);
  });
});
