import { normalizeModel } from '@ollama-ring/protocol';
import { type NodeSnapshot, type PoolView, partsFor } from '../../src';

// How many parts a large embedding call is split into: one per node that has the model loaded and
// a free slot now, no part under minPartSize inputs, and one below splitAbove.

/** As the pool's resident models are named. */
const MODEL = normalizeModel('nomic-embed-text');
const NOW = 1_000_000;

function node(id: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    id,
    url: `http://${id}:11434`,
    health: 'HEALTHY',
    enabled: true,
    adminDisabled: false,
    draining: false,
    inFlight: 0,
    maxConcurrent: 1,
    weight: 1,
    priority: 0,
    tags: [],
    models: [MODEL],
    loadedModels: [{ model: MODEL, optionsSignature: null, expiresAt: NOW + 60_000 }],
    breakerState: 'closed',
    totalRequests: 0,
    failedRequests: 0,
    lastError: '',
    removed: false,
    ...over,
  };
}

const view = (nodes: NodeSnapshot[]): PoolView => ({ at: NOW, nodes }) as unknown as PoolView; // only `at` and `nodes` are read
const cfg = { splitAbove: 100, minPartSize: 10 };

describe('partsFor', () => {
  it.each([
    ['at or below splitAbove: one part', [node('a'), node('b')], 100, 1],
    ['one part per hot node with a free slot', [node('a'), node('b'), node('c')], 300, 3],
    ['capped by minPartSize', Array.from({ length: 20 }, (_, i) => node(`n${i}`)), 150, 15],
    ['a busy node does not count', [node('a'), node('b', { inFlight: 1 })], 300, 1],
    ['a cold node does not count', [node('a'), node('b', { loadedModels: [] })], 300, 1],
    ['an expired residency does not count', [node('a'), node('b', { loadedModels: [{ model: MODEL, optionsSignature: null, expiresAt: NOW - 1 }] })], 300, 1],
    [
      'nodes that cannot serve do not count',
      [
        node('a'),
        node('b', { breakerState: 'open' }),
        node('c', { draining: true }),
        node('d', { health: 'UNHEALTHY' }),
        node('e', { removed: true }),
        node('f', { enabled: false }),
      ],
      300,
      1,
    ],
    ['no hot node at all: one part', [node('a', { loadedModels: [] })], 300, 1],
  ])('%s', (_what, nodes, inputs, parts) => {
    expect(partsFor(view(nodes), 'nomic-embed-text', inputs, cfg)).toBe(parts);
  });

  it('never splits with splitAbove 0', () => {
    expect(partsFor(view([node('a'), node('b')]), 'nomic-embed-text', 10_000, { splitAbove: 0, minPartSize: 1 })).toBe(1);
  });
});
