// What every strategy owes the scheduler, whatever its policy: null with nothing to pick, null when
// every candidate is full, and never a node without a free slot.
import { StrategyFactory } from '../../src/strategies';
import { context, node, request } from './fixtures';

const strategies = StrategyFactory.names().map((name) => ({ name }));

describe.each(strategies)('$name', ({ name }) => {
  const make = () => StrategyFactory.create(name, { rng: () => 0.5 });

  it.each([
    { situation: 'no candidates', nodes: () => [] },
    { situation: 'one full node', nodes: () => [node('a', { slots: 2, inFlight: 2 })] },
    { situation: 'all full', nodes: () => [node('a', { slots: 1, inFlight: 1 }), node('b', { slots: 3, inFlight: 3, hot: { 'llama3.2:latest': '' } })] },
    { situation: 'full under the per-model cap', nodes: () => [node('a', { slots: 4, inFlight: 1, perModel: { 'llama3.2:latest': 1 } })] },
  ])('returns null with $situation', ({ nodes }) => {
    expect(make().select(nodes(), request(), context())).toBeNull();
  });

  it('only ever returns a node with a free slot', () => {
    const s = make();
    for (let i = 0; i < 50; i++) {
      const nodes = [
        node('a', { slots: 2, inFlight: i % 3 === 0 ? 2 : 1 }),
        node('b', { slots: 1, inFlight: i % 2, hot: { 'llama3.2:latest': '' } }),
        node('c', { slots: 4, inFlight: 4 }),
      ];
      const pick = s.select(nodes, request(), context({ waits: { b: 10_000_000 } }));
      if (pick) expect(pick.freeSlots('llama3.2:latest')).toBeGreaterThan(0);
    }
  });

  it('names itself canonically', () => {
    expect(make().name).toBe(name);
  });
});
