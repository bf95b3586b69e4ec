import { localRateShare, slotShare } from '../../src/shared/local-share';

/** Out of Redis each replica works on its share of every node: together, never more than the node's. */
describe('the local share of a node while Redis is out', () => {
  const ids = ['gpu-large', 'gpu-mid', 'gpu-small', 'cpu-box', 'a', 'b'];

  test.each([
    [4, 3],
    [2, 3],
    [1, 3],
    [1, 1],
    [7, 2],
    [5, 5],
    [3, 4],
    [16, 3],
  ])('%i slots over %i replicas: the shares add up to the slots exactly, on every node', (slots, replicas) => {
    for (const id of ids) {
      const shares = Array.from({ length: replicas }, (_, rank) => slotShare(slots, replicas, rank, id));
      expect(shares.reduce((a, b) => a + b, 0)).toBe(slots);
      // As even as it can be: no share more than one above another.
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    }
  });

  test("the odd slots of different nodes go to different replicas, so one replica does not get every node's", () => {
    const firsts = new Set(ids.map((id) => [0, 1, 2].find((rank) => slotShare(1, 3, rank, id) === 1)));
    expect(firsts.size).toBeGreaterThan(1);
  });

  test('a node of 1 slot with 3 replicas is left to one of them, not given to each', () => {
    expect([0, 1, 2].map((rank) => slotShare(1, 3, rank, 'cpu-box')).sort()).toEqual([0, 0, 1]);
  });

  test('alone, a replica keeps every slot', () => {
    expect(slotShare(4, 1, 0, 'n')).toBe(4);
  });

  test("a node's rate is split, and its burst too, at least one token each", () => {
    expect(localRateShare({ rps: 6, burst: 6 }, 3)).toEqual({ rps: 2, burst: 2 });
    expect(localRateShare({ rps: 2, burst: 2 }, 3)).toEqual({ rps: 2 / 3, burst: 1 });
    expect(localRateShare({ rps: 6, burst: 6 }, 1)).toEqual({ rps: 6, burst: 6 });
  });
});
