import { profileShares, topTable } from '../src/proxy/profile-top';

/** A profile of three frames: idle, and two functions under a root, with the given sample times (µs). */
function profile(samples: [number, number][]) {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 3, callFrame: { functionName: 'assemble', url: 'file:///repo/packages/balancer/dist/upstream/assembler.js', lineNumber: 21 } },
      { id: 4, callFrame: { functionName: 'writev', url: '', lineNumber: -1 } },
      { id: 5, callFrame: { functionName: 'onBody', url: '/repo/node_modules/.pnpm/undici@7/node_modules/undici/lib/client-h1.js', lineNumber: 9 } },
    ],
    samples: samples.map(([id]) => id),
    timeDeltas: samples.map(([, dt]) => dt),
  };
}

describe('bench:profile', () => {
  test('self time as a share of the busy time, idle left out, paths shortened', () => {
    const p = profileShares(
      profile([
        [2, 5_000],
        [3, 3_000],
        [4, 1_000],
        [3, 1_000],
        [5, 1_000],
      ]),
    );
    expect(p.busyMs).toBe(6);
    expect(p.shares.get('assemble balancer/dist/upstream/assembler.js')).toBeCloseTo(4 / 6);
    expect(p.shares.get('writev')).toBeCloseTo(1 / 6);
    expect(p.shares.get('onBody undici/lib/client-h1.js')).toBeCloseTo(1 / 6);
    expect([...p.shares.keys()].some((k) => k.startsWith('(idle)'))).toBe(false);
    expect(
      profileShares(
        profile([
          [3, 2_000],
          [5, 2_000],
        ]),
        'file',
      ).shares.get('undici/lib/client-h1.js'),
    ).toBeCloseTo(0.5);
  });

  test('two profiles side by side, in the first one’s order, with – where an entry is absent', () => {
    const before = profileShares(
      profile([
        [3, 3_000],
        [4, 1_000],
      ]),
    );
    const after = profileShares(
      profile([
        [4, 1_000],
        [5, 1_000],
      ]),
    );
    const table = topTable(
      [
        { label: 'before', shares: before },
        { label: 'after', shares: after },
      ],
      5,
    ).split('\n');
    expect(table[0]).toBe('| entry (self time) | before | after |');
    expect(table[2]).toBe('| `assemble balancer/dist/upstream/assembler.js` | 75.0 % | – |');
    expect(table[3]).toBe('| `writev` | 25.0 % | 50.0 % |');
    expect(table[4]).toBe('| `onBody undici/lib/client-h1.js` | – | 50.0 % |');
  });
});
