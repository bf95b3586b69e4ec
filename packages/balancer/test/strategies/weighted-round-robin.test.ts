import { WeightedRoundRobinStrategy } from '../../src/strategies';
import { context, ids, node, request } from './fixtures';

interface Row {
  name: string;
  weights: Record<string, number>;
  full?: string[];
  picks: number;
  expected: string;
}

const table: Row[] = [
  { name: "nginx's classic 5,1,1", weights: { a: 5, b: 1, c: 1 }, picks: 7, expected: 'a a b a c a a' },
  { name: '5,1,1 repeats', weights: { a: 5, b: 1, c: 1 }, picks: 14, expected: 'a a b a c a a a a b a c a a' },
  { name: '2,1', weights: { a: 2, b: 1 }, picks: 6, expected: 'a b a a b a' },
  { name: 'equal weights are round-robin', weights: { a: 1, b: 1, c: 1 }, picks: 6, expected: 'a b c a b c' },
  { name: 'fractional weights', weights: { a: 1.5, b: 0.5 }, picks: 4, expected: 'a a b a' },
  { name: 'skips a full node', weights: { a: 5, b: 1, c: 1 }, full: ['a'], picks: 4, expected: 'b c b c' },
  { name: 'weight 0 is not rotated', weights: { a: 1, b: 0 }, picks: 3, expected: 'a a a' },
  { name: 'weight 0 serves when nothing else is free', weights: { a: 1, b: 0 }, full: ['a'], picks: 2, expected: 'b b' },
  { name: 'null when all full', weights: { a: 1, b: 2 }, full: ['a', 'b'], picks: 1, expected: '-' },
];

describe('weighted-round-robin', () => {
  it.each(table)('$name', ({ weights, full, picks, expected }) => {
    const nodes = Object.entries(weights).map(([id, weight]) => node(id, { weight, slots: 1, inFlight: full?.includes(id) ? 1 : 0 }));
    const wrr = new WeightedRoundRobinStrategy();
    const out = Array.from({ length: picks }, () => wrr.select(nodes, request(), context()));
    expect(ids(out)).toBe(expected);
  });

  it('keeps the proportions of the weights over many picks', () => {
    const nodes = [node('a', { weight: 5 }), node('b', { weight: 3 }), node('c', { weight: 2 })];
    const wrr = new WeightedRoundRobinStrategy();
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const id = wrr.select(nodes, request(), context())?.id ?? '-';
      counts[id] = (counts[id] ?? 0) + 1;
    }
    expect(counts).toEqual({ a: 500, b: 300, c: 200 });
  });
});
