import type { NodeSnapshot } from '../../src/nodes/node-snapshot';
import type { NodeUsage } from '../../src/nodes/slot-usage';
import { imbalanceOf, peerGroups, poolUtilization, spread } from '../../src/scheduler/load-imbalance';

type Peer = Pick<NodeSnapshot, 'id' | 'models' | 'enabled' | 'adminDisabled' | 'draining' | 'removed'>;
const peer = (id: string, models: string[], o: Partial<Peer> = {}): Peer => ({ id, models, enabled: true, adminDisabled: false, draining: false, removed: false, ...o });
const usage = (lastMinute: number, sinceStart = lastMinute): NodeUsage => ({ busySlotMs: 0, capacitySlotMs: 0, lastMinute, sinceStart });

describe('spread', () => {
  test('(max − min) ÷ mean; 0 for equal, idle or single values', () => {
    expect(spread([0.9, 0.9])).toBe(0);
    expect(spread([0.8, 1.0])).toBeCloseTo(0.2 / 0.9, 12);
    expect(spread([1, 0])).toBe(2);
    expect(spread([0, 0, 0])).toBe(0);
    expect(spread([0.7])).toBe(0);
  });
});

describe('peerGroups', () => {
  test('groups the nodes serving each model that two or more serve, leaving out those not in rotation', () => {
    const g = peerGroups([
      peer('a', ['llama3.2:latest', 'qwen3:latest']),
      peer('b', ['llama3.2:latest']),
      peer('c', ['qwen3:latest', 'phi3:latest']),
      peer('d', ['llama3.2:latest'], { adminDisabled: true }),
      peer('e', ['llama3.2:latest'], { draining: true }),
      peer('f', ['llama3.2:latest'], { removed: true }),
      peer('g', ['llama3.2:latest'], { enabled: false }),
    ]);
    expect(Object.fromEntries(g)).toEqual({ 'llama3.2:latest': ['a', 'b'], 'qwen3:latest': ['a', 'c'] });
  });

  test('a node that lists no models takes any, so it joins every group; with no models anywhere the pool is one group', () => {
    expect(Object.fromEntries(peerGroups([peer('a', ['m']), peer('any', [])]))).toEqual({ m: ['a', 'any'] });
    expect(Object.fromEntries(peerGroups([peer('a', []), peer('b', [])]))).toEqual({ '*': ['a', 'b'] });
    expect(peerGroups([peer('a', [])]).size).toBe(0);
  });
});

describe('imbalanceOf and poolUtilization', () => {
  test('the pool figure is the worst model group; null when no model has two nodes', () => {
    const groups = peerGroups([peer('a', ['x', 'y']), peer('b', ['x']), peer('c', ['y'])]);
    const u: Record<string, number> = { a: 0.9, b: 0.9, c: 0.3 };
    const r = imbalanceOf(groups, (id) => u[id]);
    expect(r.byModel.x).toBe(0);
    expect(r.byModel.y).toBeCloseTo(0.6 / 0.6, 12);
    expect(r.worst).toBeCloseTo(1, 12);
    expect(imbalanceOf(new Map(), () => 1).worst).toBeNull();
  });

  test('reads both windows from a view; removed nodes are left out', () => {
    const view = {
      nodes: [peer('a', ['m']), peer('b', ['m']), peer('gone', ['m'], { removed: true })] as NodeSnapshot[],
      usage: { a: usage(1, 0.5), b: usage(0.96, 0.5), gone: usage(0) },
    };
    const p = poolUtilization(view);
    expect(Object.keys(p.nodes)).toEqual(['a', 'b']);
    expect(p.imbalance.lastMinute).toBeCloseTo(0.04 / 0.98, 12);
    expect(p.imbalance.sinceStart).toBe(0);
    expect(p.imbalance.byModel.m).toEqual({ nodes: ['a', 'b'], lastMinute: p.imbalance.lastMinute, sinceStart: 0 });
  });
});
