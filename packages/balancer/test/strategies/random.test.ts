import { RandomStrategy } from '../../src/strategies';
import type { PoolNode } from '../../src/nodes/node';
import { context, ids, node, request } from './fixtures';

const three = () => [node('c'), node('a'), node('b')];

const table: Array<{ name: string; rolls: number[]; nodes: () => PoolNode[]; expected: string }> = [
  { name: 'maps the roll onto id order', rolls: [0, 0.34, 0.67, 0.99], nodes: three, expected: 'a b c c' },
  { name: 'a roll of exactly 1 stays in range', rolls: [1], nodes: three, expected: 'c' },
  { name: 'a negative roll stays in range', rolls: [-0.5], nodes: three, expected: 'a' },
  { name: 'rolls only among free nodes', rolls: [0, 0.99], nodes: () => [node('a', { slots: 1, inFlight: 1 }), node('b'), node('c')], expected: 'b c' },
  { name: 'null when all full', rolls: [0.5], nodes: () => [node('a', { slots: 1, inFlight: 1 })], expected: '-' },
];

describe('random', () => {
  it.each(table)('$name', ({ rolls, nodes, expected }) => {
    const queue = [...rolls];
    const r = new RandomStrategy(() => queue.shift() ?? 0);
    expect(ids(rolls.map(() => r.select(nodes(), request(), context())))).toBe(expected);
  });

  it('is uniform with a uniform source', () => {
    let seed = 12345;
    // A 32-bit LCG (Numerical Recipes constants): deterministic and uniform enough for a count test.
    const lcg = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const r = new RandomStrategy(lcg);
    const nodes = three();
    const counts: Record<string, number> = {};
    for (let i = 0; i < 6000; i++) {
      const id = r.select(nodes, request(), context())?.id ?? '-';
      counts[id] = (counts[id] ?? 0) + 1;
    }
    for (const id of ['a', 'b', 'c']) expect(Math.abs(counts[id] - 2000)).toBeLessThan(200);
  });
});
