// What the balancer knows of each node's resident models: Ollama's eviction choice under the node's
// model limit, and how that limit is learned when it is not configured (ollama-api.md §8).
import { PoolNode } from '../../src/nodes/node';
import { DEFAULT_MAX_LOADED_MODELS } from '../../src/nodes/resident-models';
import { BREAKER, nodeSpec } from '../helpers';

const NOW = 1_000_000;
const HOUR = 3_600_000;

interface Resident {
  model: string;
  sig?: string | null;
  lastUsed?: number;
  busy?: number;
  expired?: boolean;
}

function nodeWith(limit: number | undefined, resident: Resident[]): PoolNode {
  const n = new PoolNode({ ...nodeSpec('n'), ...(limit !== undefined && { maxLoadedModels: limit }) }, BREAKER);
  for (const r of resident) {
    n.loaded.set(r.model, { model: r.model, optionsSignature: r.sig === undefined ? '' : r.sig, expiresAt: r.expired ? NOW - 1 : NOW + HOUR, lastUsed: r.lastUsed ?? 0 });
    if (r.busy) n.inFlightByModel.set(r.model, r.busy);
  }
  return n;
}

describe('evictionsFor: what loading a model evicts, as Ollama picks it', () => {
  test.each<[string, number | undefined, Resident[], string, string, string[]]>([
    ['room left: nothing', 3, [{ model: 'a:1b' }, { model: 'b:1b' }], 'c:1b', '', []],
    ['hot with these options: nothing', 1, [{ model: 'c:1b' }], 'c:1b', '', []],
    ['resident with other options: its own runner, nothing else', 2, [{ model: 'c:1b', sig: 'num_ctx=8192' }, { model: 'a:1b' }], 'c:1b', '', ['c:1b']],
    ['only /api/ps knows it (signature unknown): hot for the default options', 1, [{ model: 'c:1b', sig: null }], 'c:1b', '', []],
    ['only /api/ps knows it: cold for other options', 1, [{ model: 'c:1b', sig: null }], 'c:1b', 'num_ctx=8192', ['c:1b']],
    [
      'full: the least recently used',
      2,
      [
        { model: 'a:1b', lastUsed: 20 },
        { model: 'b:1b', lastUsed: 10 },
      ],
      'c:1b',
      '',
      ['b:1b'],
    ],
    [
      'full: an idle model before an older busy one',
      2,
      [
        { model: 'a:1b', lastUsed: 20 },
        { model: 'b:1b', lastUsed: 10, busy: 1 },
      ],
      'c:1b',
      '',
      ['a:1b'],
    ],
    [
      'full and all busy: the least recently used busy one (Ollama drains it first)',
      2,
      [
        { model: 'a:1b', lastUsed: 20, busy: 1 },
        { model: 'b:1b', lastUsed: 10, busy: 2 },
      ],
      'c:1b',
      '',
      ['b:1b'],
    ],
    [
      'over a limit learned lower: as many as it takes',
      1,
      [
        { model: 'a:1b', lastUsed: 20 },
        { model: 'b:1b', lastUsed: 10 },
      ],
      'c:1b',
      '',
      ['b:1b', 'a:1b'],
    ],
    ['expired models do not count', 1, [{ model: 'a:1b', expired: true }], 'c:1b', '', []],
    [
      'no limit known: Ollama’s default of 3',
      undefined,
      [
        { model: 'a:1b', lastUsed: 3 },
        { model: 'b:1b', lastUsed: 2 },
        { model: 'd:1b', lastUsed: 1 },
      ],
      'c:1b',
      '',
      ['d:1b'],
    ],
  ])('%s', (_name, limit, resident, model, sig, expected) => {
    expect(
      nodeWith(limit, resident)
        .evictionsFor(model, sig, NOW)
        .map((l) => l.model),
    ).toEqual(expected);
  });

  test('recordLoad mirrors the eviction, marks the model used now, and books the load on the node’s loader', () => {
    const n = nodeWith(2, [
      { model: 'a:1b', lastUsed: 20 },
      { model: 'b:1b', lastUsed: 10 },
    ]);
    expect(n.recordLoad('c:1b', '', NOW, NOW + HOUR, 4_000).map((l) => l.model)).toEqual(['b:1b']);
    expect([...n.loaded.keys()].sort()).toEqual(['a:1b', 'c:1b']);
    expect(n.loaded.get('c:1b')).toMatchObject({ lastUsed: NOW, readyAt: NOW + 4_000 });
    // Ollama loads one at a time: the next load waits for this one.
    n.recordLoad('d:1b', '', NOW + 1_000, NOW + HOUR, 2_000);
    expect(n.residency.loadingUntil).toBe(NOW + 6_000);
    expect([...n.loaded.keys()].sort()).toEqual(['c:1b', 'd:1b']); // 'a' was now the least recently used
  });

  test('a request that ended makes its model ready then, however long its load was expected to take', () => {
    const n = nodeWith(3, []);
    n.recordLoad('c:1b', '', NOW, NOW + HOUR, 4_000);
    n.recordLoad('d:1b', '', NOW, NOW + HOUR, 2_000);
    n.modelReady('c:1b', NOW + 500);
    expect(n.loaded.get('c:1b')?.readyAt).toBe(NOW + 500);
    // The loader is still booked for d until its own (chained) estimate.
    expect(n.residency.loadingUntil).toBe(NOW + 6_000);
    n.modelReady('d:1b', NOW + 700);
    expect(n.residency.loadingUntil).toBe(NOW + 700);
    // A model ready long ago is left as it was.
    n.modelReady('d:1b', NOW + 9_000);
    expect(n.loaded.get('d:1b')?.readyAt).toBe(NOW + 700);
  });
});

type Evidence = ['ps', number, boolean] | ['surprise', number];

describe('the model limit, learned when not configured', () => {
  test.each<[string, number | undefined, Evidence[], number]>([
    ['no evidence: Ollama’s default', undefined, [], DEFAULT_MAX_LOADED_MODELS],
    [
      'configured: evidence changes nothing',
      2,
      [
        ['ps', 4, false],
        ['surprise', 2],
        ['ps', 1, true],
      ],
      2,
    ],
    ['/api/ps showed more at once: at least that many', undefined, [['ps', 4, false]], 4],
    [
      'a model gone from /api/ps before its expiry: the node was full at the most seen',
      undefined,
      [
        ['ps', 1, false],
        ['ps', 1, true],
      ],
      1,
    ],
    ['a hot request that loaded: one less than we believed resident', undefined, [['surprise', 3]], 2],
    [
      'repeated surprises step down to 1',
      undefined,
      [
        ['surprise', 3],
        ['surprise', 2],
        ['surprise', 2],
      ],
      1,
    ],
    [
      'never below what /api/ps showed at once',
      undefined,
      [
        ['ps', 2, false],
        ['surprise', 2],
        ['surprise', 2],
      ],
      2,
    ],
    [
      'a later /api/ps with more at once raises a learned limit',
      undefined,
      [
        ['surprise', 2],
        ['ps', 3, false],
      ],
      3,
    ],
  ])('%s', (_name, configured, evidence, expected) => {
    const n = new PoolNode({ ...nodeSpec('n'), ...(configured !== undefined && { maxLoadedModels: configured }) }, BREAKER);
    for (const e of evidence) {
      if (e[0] === 'ps') n.residency.noteObserved(e[1], e[2], n.spec.maxLoadedModels);
      else n.residency.noteUnexpectedLoad(e[1], n.spec.maxLoadedModels);
    }
    expect(n.maxLoadedModels()).toBe(expected);
  });

  test('recent-use shares decay with later bindings and sum to 1', () => {
    const n = nodeWith(3, []);
    for (let i = 0; i < 10; i++) n.residency.noteBinding('a');
    const before = n.residency.recentShare('a');
    for (let i = 0; i < 10; i++) n.residency.noteBinding('b');
    expect(before).toBeCloseTo(1);
    expect(n.residency.recentShare('a')).toBeLessThan(n.residency.recentShare('b'));
    expect(n.residency.recentShare('a') + n.residency.recentShare('b')).toBeCloseTo(1);
    expect(n.residency.recentShare('never')).toBe(0);
  });
});
