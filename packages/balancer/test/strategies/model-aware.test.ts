import { ModelAwareStrategy } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import type { RoutingRequest } from '../../src/strategies/strategy';
import { context, MODEL, node, request } from './fixtures';

const table: Array<{ name: string; nodes: () => PoolNode[]; req?: Partial<RoutingRequest>; expected: string | null }> = [
  { name: 'hot beats cold', nodes: () => [node('a'), node('b', { inFlight: 2, hot: { [MODEL]: '' } })], expected: 'b' },
  {
    name: 'least loaded among hot',
    nodes: () => [node('a', { inFlight: 3, hot: { [MODEL]: '' } }), node('b', { inFlight: 1, hot: { [MODEL]: '' } }), node('c')],
    expected: 'b',
  },
  {
    name: 'hot ties: lower priority value',
    nodes: () => [node('a', { priority: 2, hot: { [MODEL]: '' } }), node('b', { priority: 1, hot: { [MODEL]: '' } })],
    expected: 'b',
  },
  {
    name: 'hot only on a full node: least loaded of the rest',
    nodes: () => [node('a', { slots: 1, inFlight: 1, hot: { [MODEL]: '' } }), node('b', { inFlight: 2 }), node('c', { inFlight: 1 })],
    expected: 'c',
  },
  {
    name: 'another num_ctx is cold',
    nodes: () => [node('a', { inFlight: 1, hot: { [MODEL]: 'num_ctx=8192' } }), node('b')],
    expected: 'b',
  },
  {
    name: 'the same num_ctx is hot',
    nodes: () => [node('a', { inFlight: 1, hot: { [MODEL]: 'num_ctx=8192' } }), node('b')],
    req: { optionsSignature: 'num_ctx=8192' },
    expected: 'a',
  },
  { name: 'seen only in /api/ps: hot for defaults', nodes: () => [node('a', { inFlight: 1, hot: { [MODEL]: null } }), node('b')], expected: 'a' },
  {
    name: 'seen only in /api/ps: cold for other options',
    nodes: () => [node('a', { inFlight: 1, hot: { [MODEL]: null } }), node('b')],
    req: { optionsSignature: 'num_ctx=8192' },
    expected: 'b',
  },
  { name: 'expired is cold', nodes: () => [node('a', { inFlight: 1, expired: [MODEL] }), node('b')], expected: 'b' },
  { name: 'another model hot is cold', nodes: () => [node('a', { hot: { 'qwen3:8b': '' } }), node('b', { inFlight: 1 })], expected: 'a' },
  { name: 'null when all full', nodes: () => [node('a', { slots: 1, inFlight: 1, hot: { [MODEL]: '' } })], expected: null },
];

describe('model-aware', () => {
  it.each(table)('$name', ({ nodes, req, expected }) => {
    expect(new ModelAwareStrategy().select(nodes(), request(req), context())?.id ?? null).toBe(expected);
  });
});
