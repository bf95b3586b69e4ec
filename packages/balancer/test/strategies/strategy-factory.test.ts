import { BalancerError } from '../../src/errors';
import { HybridStrategy, PerformanceStrategy, PredictiveStrategy, StrategyFactory, UnknownStrategyError, DEFAULT_STRATEGY } from '../../src/strategies';
import { context, node, request } from './fixtures';

const canonical = ['round-robin', 'weighted-round-robin', 'least-in-flight', 'random', 'model-aware', 'latency', 'performance', 'predictive', 'hybrid'];

const aliases: Array<[string, string]> = [
  ['least_loaded', 'least-in-flight'],
  ['round_robin', 'round-robin'],
  ['model_affinity', 'model-aware'],
  ['latency_based', 'latency'],
  ['weighted', 'weighted-round-robin'],
  ['least_conn', 'least-in-flight'],
  ['least-connections', 'least-in-flight'],
  ['weighted_round_robin', 'weighted-round-robin'],
  ['LEAST_IN_FLIGHT', 'least-in-flight'],
  ['  Predictive ', 'predictive'],
];

describe('StrategyFactory', () => {
  it('lists the canonical names', () => {
    expect(StrategyFactory.names()).toEqual(canonical);
    expect(DEFAULT_STRATEGY).toBe('predictive');
  });

  it.each(canonical)('creates %s', (name) => {
    expect(StrategyFactory.create(name).name).toBe(name);
  });

  it.each(aliases)('maps %s to %s', (alias, name) => {
    expect(StrategyFactory.resolve(alias)).toBe(name);
    expect(StrategyFactory.create(alias).name).toBe(name);
  });

  it('lists the aliases in the seeds’ spelling', () => {
    expect(StrategyFactory.aliases()).toMatchObject({
      least_loaded: 'least-in-flight',
      model_affinity: 'model-aware',
      latency_based: 'latency',
      weighted: 'weighted-round-robin',
    });
  });

  it('returns a new instance each time', () => {
    expect(StrategyFactory.create('round-robin')).not.toBe(StrategyFactory.create('round-robin'));
  });

  it.each(['fastest', '', 'round-robin-2', 'toString', '__proto__'])('rejects %j with a typed error', (bad) => {
    expect(StrategyFactory.resolve(bad)).toBeUndefined();
    let err: unknown;
    try {
      StrategyFactory.create(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownStrategyError);
    expect(err).toBeInstanceOf(BalancerError);
    const e = err as UnknownStrategyError;
    expect(e.code).toBe('ERR_UNKNOWN_STRATEGY');
    expect(e.status).toBe(400);
    expect(e.strategy).toBe(bad);
    expect(e.validNames).toEqual(expect.arrayContaining([...canonical, 'least_loaded', 'model_affinity']));
    for (const n of canonical) expect(e.message).toContain(n);
  });

  it('passes options to the strategies that take them', () => {
    const nodes = [node('a'), node('b'), node('c')];
    expect(StrategyFactory.create('random', { rng: () => 0.9 }).select(nodes, request(), context())?.id).toBe('c');
    const perf = StrategyFactory.create('performance', { performanceWeights: { priority: 0 } }) as PerformanceStrategy;
    expect(perf.weights.priority).toBe(0);
    const pred = StrategyFactory.create('predictive', { predictive: { waitMarginRatio: 0.3 } }) as PredictiveStrategy;
    expect(pred.options.waitMarginRatio).toBe(0.3);
    const hybrid = StrategyFactory.create('hybrid', { hybrid: { weights: { capacity: 1, health: 1, responseTime: 1, affinity: 1 } } }) as HybridStrategy;
    expect(hybrid.settings.weights).toEqual({ capacity: 0.25, health: 0.25, responseTime: 0.25, affinity: 0.25 });
  });
});
