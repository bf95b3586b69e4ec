import { RoundRobinStrategy } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { context, ids, node, request } from './fixtures';

const free = (id: string) => node(id);
const full = (id: string) => node(id, { slots: 1, inFlight: 1 });

/** Each step is the candidate list of one call; `expected` the ids picked, '-' for null. */
const table: Array<{ name: string; steps: Array<() => PoolNode[]>; expected: string }> = [
  { name: 'cycles in id order', steps: Array(7).fill(() => [free('a'), free('b'), free('c')]), expected: 'a b c a b c a' },
  { name: 'ignores the listing order', steps: Array(4).fill(() => [free('c'), free('a'), free('b')]), expected: 'a b c a' },
  { name: 'orders ids numerically', steps: Array(3).fill(() => [free('n-10'), free('n-2'), free('n-1')]), expected: 'n-1 n-2 n-10' },
  { name: 'skips a full node', steps: Array(4).fill(() => [free('a'), full('b'), free('c')]), expected: 'a c a c' },
  { name: 'null when all full', steps: [() => [full('a'), full('b')]], expected: '-' },
  {
    name: 'continues after a removed node',
    steps: [() => [free('a'), free('b'), free('c')], () => [free('a'), free('b'), free('c')], () => [free('a'), free('c')], () => [free('a'), free('c')]],
    expected: 'a b c a',
  },
  {
    name: 'continues when the last-picked node is gone',
    steps: [() => [free('a'), free('b'), free('c')], () => [free('a'), free('b'), free('c')], () => [free('a'), free('c')]],
    expected: 'a b c',
  },
  {
    name: 'fits an added node into the rotation',
    steps: [() => [free('a'), free('c')], () => [free('a'), free('b'), free('c')], () => [free('a'), free('b'), free('c')]],
    expected: 'a b c',
  },
  {
    name: 'a node that frees up rejoins at its turn',
    steps: [() => [free('a'), full('b'), free('c')], () => [free('a'), free('b'), free('c')], () => [free('a'), free('b'), free('c')]],
    expected: 'a b c',
  },
];

describe('round-robin', () => {
  it.each(table)('$name', ({ steps, expected }) => {
    const rr = new RoundRobinStrategy();
    expect(ids(steps.map((s) => rr.select(s(), request(), context())))).toBe(expected);
  });

  it('is fair over many picks', () => {
    const rr = new RoundRobinStrategy();
    const nodes = ['a', 'b', 'c', 'd'].map((id) => free(id));
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const id = rr.select(nodes, request(), context())?.id ?? '-';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ a: 1000, b: 1000, c: 1000, d: 1000 });
  });
});
