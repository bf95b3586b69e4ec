import { localRateShare, slotShares } from '../../src/shared/local-share';

/** Each replica's shares, by rank, of a pool. */
function all(pool: { id: string; slots: number }[], replicas: number): Map<string, number>[] {
  return Array.from({ length: replicas }, (_, rank) => slotShares(pool, replicas, rank));
}

/** Out of Redis each replica works on its share of every node: together, never more than the node's. */
describe('the local share of the pool while Redis is out', () => {
  const bench = [
    { id: 'gpu-large', slots: 4 },
    { id: 'gpu-mid', slots: 2 },
    { id: 'gpu-small', slots: 2 },
    { id: 'cpu-box', slots: 1 },
  ];

  test.each([1, 2, 3, 4, 5, 7, 12])('over %i replicas: every node’s shares add up to its slots exactly, and each replica’s pool within one slot of another’s', (replicas) => {
    const shares = all(bench, replicas);
    for (const node of bench) expect(shares.reduce((sum, s) => sum + s.get(node.id)!, 0)).toBe(node.slots);
    const totals = shares.map((s) => [...s.values()].reduce((a, b) => a + b, 0));
    expect(Math.max(...totals) - Math.min(...totals)).toBeLessThanOrEqual(1);
  });

  test('three replicas on nodes of 2 and 1 slots: one slot each, none left without', () => {
    const shares = all(
      [
        { id: 'b', slots: 1 },
        { id: 'a', slots: 2 },
      ],
      3,
    );
    expect(shares.map((s) => s.get('a')! + s.get('b')!)).toEqual([1, 1, 1]);
    expect(shares.map((s) => s.get('b'))).toEqual([0, 0, 1]);
  });

  test('the order the nodes come in does not matter: every replica computes the same split', () => {
    const reversed = [...bench].reverse();
    for (let rank = 0; rank < 3; rank++) expect(slotShares(reversed, 3, rank)).toEqual(slotShares(bench, 3, rank));
  });

  test('alone, a replica keeps every slot', () => {
    expect(slotShares(bench, 1, 0)).toEqual(new Map(bench.map((n) => [n.id, n.slots])));
  });

  test("a node's rate is split, and its burst too, at least one token each", () => {
    expect(localRateShare({ rps: 6, burst: 6 }, 3)).toEqual({ rps: 2, burst: 2 });
    expect(localRateShare({ rps: 2, burst: 2 }, 3)).toEqual({ rps: 2 / 3, burst: 1 });
    expect(localRateShare({ rps: 6, burst: 6 }, 1)).toEqual({ rps: 6, burst: 6 });
  });
});
