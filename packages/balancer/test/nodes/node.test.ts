import type { HealthState } from '../../src/nodes/node';
import { makeNode } from '../helpers';

const NOW = 1_000_000;

describe('PoolNode.hasModel', () => {
  test.each<[string, { models?: string[]; discovered?: string[] | null; missing?: string[] }, string, boolean]>([
    ['no config, no discovery yet: any model', {}, 'anything', true],
    ['configured model', { models: ['llama3.2'] }, 'LLaMA3.2:latest', true],
    ['not configured, no discovery: no', { models: ['llama3.2'] }, 'qwen', false],
    ['discovered model', { discovered: ['qwen:7b'] }, 'qwen:7b', true],
    ['discovery says no, nothing configured', { discovered: ['qwen:7b'] }, 'qwen', false],
    ['an empty discovery means no models', { discovered: [] }, 'anything', false],
    ['discovery adds to configured', { models: ['a'], discovered: ['b:latest'] }, 'b', true],
    ['configured wins over a discovery that lacks it', { models: ['a'], discovered: ['b:latest'] }, 'a', true],
    ['missing (a 404 there) overrides configured', { models: ['a'], missing: ['a:latest'] }, 'a', false],
    ['missing overrides discovered', { discovered: ['a:latest'], missing: ['a:latest'] }, 'A', false],
    ['missing overrides the any-model default', { missing: ['a:latest'] }, 'a', false],
    ['missing one model leaves others', { missing: ['a:latest'] }, 'b', true],
  ])('%s', (_name, s, model, expected) => {
    const n = makeNode('a', { models: s.models });
    if (s.discovered !== undefined) n.discoveredModels = s.discovered === null ? null : new Set(s.discovered);
    for (const m of s.missing ?? []) n.missingModels.add(m);
    expect(n.hasModel(model)).toBe(expected);
  });
});

describe('PoolNode.hasTags', () => {
  test.each<[string[], string[], boolean]>([
    [[], [], true],
    [['gpu'], [], true],
    [['gpu', 'fast'], ['gpu'], true],
    [['gpu'], ['gpu', 'fast'], false],
    [[], ['gpu'], false],
  ])('node %j has all of %j: %p', (tags, required, expected) => {
    expect(makeNode('a', { tags }).hasTags(required)).toBe(expected);
  });
});

describe('PoolNode.freeSlots', () => {
  test.each<[string, { slots: number; perModel?: Record<string, number>; inFlight?: Record<string, number> }, string, number]>([
    ['empty node', { slots: 4 }, 'm', 4],
    ['partly used', { slots: 4, inFlight: { 'x:latest': 3 } }, 'm', 1],
    ['full', { slots: 2, inFlight: { 'x:latest': 2 } }, 'm', 0],
    ['over-full (after a reload shrank it) is 0, not negative', { slots: 1, inFlight: { 'x:latest': 3 } }, 'm', 0],
    ['a per-model cap limits that model', { slots: 4, perModel: { 'm:latest': 1 }, inFlight: { 'm:latest': 1 } }, 'm', 0],
    ['the cap counts only its own model', { slots: 4, perModel: { 'm:latest': 2 }, inFlight: { 'x:latest': 1, 'm:latest': 1 } }, 'M:latest', 1],
    ['the node cap still binds a capped model', { slots: 2, perModel: { 'm:latest': 2 }, inFlight: { 'x:latest': 2 } }, 'm', 0],
    ['an uncapped model ignores other models’ caps', { slots: 4, perModel: { 'm:latest': 1 }, inFlight: { 'm:latest': 1 } }, 'x', 3],
    ['a cap above the node’s slots', { slots: 2, perModel: { 'm:latest': 10 } }, 'm', 2],
    ['a cap of 0 means never', { slots: 4, perModel: { 'm:latest': 0 } }, 'm', 0],
  ])('%s', (_name, s, model, expected) => {
    const n = makeNode('a', { slots: s.slots, perModel: s.perModel });
    for (const [m, c] of Object.entries(s.inFlight ?? {})) {
      n.inFlightByModel.set(m, c);
      n.inFlight += c;
    }
    expect(n.freeSlots(model)).toBe(expected);
  });

  test.each<[number, Record<string, number> | undefined, string, number]>([
    [4, undefined, 'm', 4],
    [4, { 'm:latest': 2 }, 'm', 2],
    [4, { 'm:latest': 9 }, 'm', 4],
    [4, { 'm:latest': 0 }, 'm', 1], // at least 1, for estimates
    [0, undefined, 'm', 1],
  ])('slotsFor: %i slots, caps %j → %i', (slots, perModel, model, expected) => {
    expect(makeNode('a', { slots, perModel }).slotsFor(model)).toBe(expected);
  });

  test('load is in-flight over capacity; a zero-slot node counts as full', () => {
    const n = makeNode('a', { slots: 4 });
    n.inFlight = 1;
    expect(n.load()).toBe(0.25);
    expect(makeNode('b', { slots: 0 }).load()).toBe(1);
  });
});

describe('PoolNode.isHot', () => {
  test.each<[string, { sig: string | null; expiresAt: number } | undefined, string, string, boolean]>([
    ['not loaded', undefined, 'm', '', false],
    ['loaded with the same default signature', { sig: '', expiresAt: NOW + 1 }, 'm', '', true],
    ['loaded with the same signature', { sig: 'num_ctx=8192', expiresAt: NOW + 1 }, 'M:latest', 'num_ctx=8192', true],
    ['loaded with other options: a reload', { sig: 'num_ctx=8192', expiresAt: NOW + 1 }, 'm', 'num_ctx=4096', false],
    ['loaded with options, asked with defaults: a reload', { sig: 'num_ctx=8192', expiresAt: NOW + 1 }, 'm', '', false],
    ['seen only in /api/ps (null): hot for the default signature', { sig: null, expiresAt: NOW + 1 }, 'm', '', true],
    ['seen only in /api/ps (null): not hot for other options', { sig: null, expiresAt: NOW + 1 }, 'm', 'num_ctx=8192', false],
    ['expired exactly now', { sig: '', expiresAt: NOW }, 'm', '', false],
    ['expired', { sig: '', expiresAt: NOW - 1 }, 'm', '', false],
    ['never expires', { sig: '', expiresAt: Infinity }, 'm', '', true],
  ])('%s', (_name, loaded, model, sig, expected) => {
    const n = makeNode('a');
    if (loaded) n.loaded.set('m:latest', { model: 'm:latest', optionsSignature: loaded.sig, expiresAt: loaded.expiresAt });
    expect(n.isHot(model, sig, NOW)).toBe(expected);
  });
});

describe('PoolNode.isRoutable', () => {
  type Setup = { enabled?: boolean; adminDisabled?: boolean; draining?: boolean; health?: HealthState; tripped?: boolean };
  test.each<[string, Setup, boolean]>([
    ['a fresh node (health UNKNOWN)', {}, true],
    ['HEALTHY', { health: 'HEALTHY' }, true],
    ['DEGRADED still takes requests', { health: 'DEGRADED' }, true],
    ['UNHEALTHY', { health: 'UNHEALTHY' }, false],
    ['disabled in config', { enabled: false }, false],
    ['disabled by the admin', { adminDisabled: true }, false],
    ['draining', { draining: true }, false],
    ['breaker open', { tripped: true }, false],
  ])('%s: %p', (_name, s, expected) => {
    const n = makeNode('a', { enabled: s.enabled });
    if (s.health) n.health = s.health;
    n.adminDisabled = s.adminDisabled ?? false;
    n.draining = s.draining ?? false;
    if (s.tripped) n.breaker.trip(NOW);
    expect(n.isRoutable(NOW)).toBe(expected);
  });

  test('a breaker past its recovery time makes the node routable again (half-open)', () => {
    const n = makeNode('a');
    n.breaker.trip(NOW);
    expect(n.isRoutable(NOW + 999)).toBe(false);
    expect(n.isRoutable(NOW + 1_000)).toBe(true);
    expect(n.breaker.state).toBe('half-open');
  });

  test('id, url and maxConcurrent come from the spec, and follow a spec change', () => {
    const n = makeNode('a', { slots: 3, url: 'http://x:1' });
    expect([n.id, n.url, n.maxConcurrent]).toEqual(['a', 'http://x:1', 3]);
    n.spec = { ...n.spec, maxConcurrentRequests: 8, url: 'http://y:2' };
    expect([n.url, n.maxConcurrent]).toEqual(['http://y:2', 8]);
  });
});
