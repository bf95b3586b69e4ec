// Resource signals on the scheduler's nodes: a scrape's event sets them, a failed one clears them,
// they go stale, a reload that changes the exporter forgets them, and health never moves with them.
import type { BalancerConfig, StrategyConfig } from '../../src/config/types';
import { applyConfig } from '../../src/nodes/node-events';
import { resourceMaxAgeMs } from '../../src/nodes/resource-signals';
import { PerformanceStrategy } from '../../src/strategies/performance';
import { StrategyFactory, strategyOptionsOf } from '../../src/strategies/strategy-factory';
import { Harness, nodeSpec, testStrategies } from '../helpers';

const T0 = 1_000_000;

function harness(): { h: Harness; clock: { now: number } } {
  const clock = { now: T0 };
  const h = new Harness({
    now: () => clock.now,
    nodes: [{ ...nodeSpec('a'), metricsUrl: 'http://a:9100/metrics' }, nodeSpec('b')],
  });
  return { h, clock };
}

const scraped = (h: Harness, nodeId: string, at: number, signals?: { cpuLoadPerCore?: number; gpuMemFreeBytes?: number }) =>
  h.scheduler.apply({ type: 'resources-scraped', nodeId, at, ...(signals && { signals }) });

describe('resource signals on the scheduler', () => {
  it('a scrape sets them, dated; strategies and snapshots see them with their age', () => {
    const { h, clock } = harness();
    scraped(h, 'a', T0, { cpuLoadPerCore: 0.4, gpuMemFreeBytes: 1024 });
    clock.now = T0 + 1_500;
    expect(h.node('a').resources(clock.now)).toMatchObject({ cpuLoadPerCore: 0.4, gpuMemFreeBytes: 1024, scrapedAt: T0 });
    expect(h.view().nodes.find((n) => n.id === 'a')).toMatchObject({ metricsUrl: 'http://a:9100/metrics', resources: { cpuLoadPerCore: 0.4, ageMs: 1_500 } });
    expect(h.view().nodes.find((n) => n.id === 'b')?.resources).toBeUndefined();
  });

  it('a failed scrape clears them, and neither changes the node’s health', () => {
    const { h } = harness();
    h.node('a').health = 'HEALTHY';
    scraped(h, 'a', T0, { cpuLoadPerCore: 0.4 });
    scraped(h, 'a', T0 + 100);
    expect(h.node('a').resources(T0 + 100)).toBeUndefined();
    expect(h.node('a').health).toBe('HEALTHY');
    expect(h.node('a').consecutiveHealthFailures).toBe(0);
  });

  it('they go stale after three health intervals plus a probe timeout', () => {
    const { h } = harness();
    scraped(h, 'a', T0, { cpuLoadPerCore: 0.4 });
    const maxAge = resourceMaxAgeMs(h.scheduler.config);
    expect(h.node('a').resources(T0 + maxAge - 1)).toBeDefined();
    expect(h.node('a').resources(T0 + maxAge)).toBeUndefined();
  });

  it('a scrape for a node without a metricsUrl (taken away by a reload since) is dropped', () => {
    const { h } = harness();
    scraped(h, 'b', T0, { cpuLoadPerCore: 0.4 });
    expect(h.node('b').resources(T0)).toBeUndefined();
    scraped(h, 'a', T0, { cpuLoadPerCore: 0.4 });
    const cfg: BalancerConfig = structuredClone(h.scheduler.config);
    cfg.nodes[0] = nodeSpec('a');
    applyConfig(h.scheduler, cfg, testStrategies);
    expect(h.node('a').resources(T0)).toBeUndefined();
  });

  it('a reload that changes the performance weights makes a new strategy with them; one that changes nothing does not', () => {
    const { h } = harness();
    const made: StrategyConfig[] = [];
    const create = (name: string, settings: StrategyConfig) => {
      made.push(settings);
      return testStrategies(name);
    };
    const same: BalancerConfig = structuredClone(h.scheduler.config);
    applyConfig(h.scheduler, same, create);
    expect(made).toEqual([]);
    const heavier: BalancerConfig = structuredClone(h.scheduler.config);
    heavier.strategy.performance = { weights: { cpuLoad: 0.9, gpuMemory: 0.2, priority: 0.1, latency: 0.2, failure: 0.2, load: 0.25, gpuUtil: 0 } };
    applyConfig(h.scheduler, heavier, create);
    expect(made.map((s) => s.performance?.weights.cpuLoad)).toEqual([0.9]);
  });

  it("the factory gives performance the config's weights", () => {
    const settings: StrategyConfig = { type: 'performance', performance: { weights: { cpuLoad: 0.5, gpuMemory: 0, priority: 0, latency: 0, failure: 1, load: 0, gpuUtil: 0.4 } } };
    const s = StrategyFactory.create('performance', strategyOptionsOf(settings)) as PerformanceStrategy;
    expect(s.weights).toEqual(settings.performance?.weights);
    expect((StrategyFactory.create('performance', strategyOptionsOf({ type: 'performance' })) as PerformanceStrategy).weights.cpuLoad).toBe(0.3);
  });
});
