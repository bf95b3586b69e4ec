import { DEFAULT_ESTIMATES, Estimates, type FinalChunkStats } from '../../src/scheduler/estimates';
import { Ewma } from '../../src/scheduler/ewma';
import { backoffMs, type RetryConfig } from '../../src/scheduler/retry-policy';

describe('backoffMs', () => {
  const cfg: RetryConfig = { maxRetries: 5, initialBackoffMs: 100, maxBackoffMs: 1_000, backoffMultiplier: 2 };

  test.each<[number, number, number]>([
    // attempt, min (random 0), max (random → 1)
    [0, 50, 100], // attempts below 1 behave as the first
    [1, 50, 100],
    [2, 100, 200],
    [3, 200, 400],
    [4, 400, 800],
    [5, 500, 1_000], // capped at maxBackoffMs
    [30, 500, 1_000],
  ])('attempt %i lies in [%i, %i]', (attempt, lo, hi) => {
    expect(backoffMs(cfg, attempt, () => 0)).toBe(lo);
    expect(backoffMs(cfg, attempt, () => 0.999_999)).toBeCloseTo(hi, 2);
    expect(backoffMs(cfg, attempt, () => 0.5)).toBe((lo + hi) / 2);
  });

  test('multiplier 1 gives a constant base', () => {
    const c = { ...cfg, backoffMultiplier: 1 };
    expect([1, 2, 3].map((a) => backoffMs(c, a, () => 0))).toEqual([50, 50, 50]);
  });

  test('jitter is used: two draws of the same attempt differ with Math.random', () => {
    const draws = new Set(Array.from({ length: 20 }, () => backoffMs(cfg, 3)));
    expect(draws.size).toBeGreaterThan(1);
    for (const d of draws) expect(d >= 200 && d < 400).toBe(true);
  });
});

describe('Ewma', () => {
  test('the first sample is taken as is; later ones are blended with alpha', () => {
    const e = new Ewma(0.5);
    expect(e.value(42)).toBe(42); // fallback before any sample
    expect(e.count).toBe(0);
    expect(e.update(10)).toBe(10);
    expect(e.update(20)).toBe(15);
    expect(e.update(15)).toBe(15);
    expect(e.count).toBe(3);
    expect(e.value(42)).toBe(15);
  });

  test.each([NaN, Infinity, -Infinity])('ignores the non-finite sample %p', (x) => {
    const e = new Ewma(0.2);
    e.update(x);
    expect(e.count).toBe(0);
    expect(e.value(7)).toBe(7);
    e.update(10);
    e.update(x);
    expect(e.value()).toBe(10);
    expect(e.count).toBe(1);
  });

  test('default alpha is 0.2', () => {
    const e = new Ewma();
    e.update(0);
    expect(e.update(100)).toBeCloseTo(20);
  });
});

function stats(s: Partial<FinalChunkStats> = {}): FinalChunkStats {
  return { loadMs: 0, promptTokens: 0, promptEvalMs: 0, evalTokens: 0, evalMs: 0, totalMs: 0, ...s };
}

describe('Estimates', () => {
  const M = 'llama3.2:latest';
  const T = { ttftMs: 100, latencyMs: 1_000 };

  test('priors before anything is observed', () => {
    const e = new Estimates();
    expect(e.loadMs('a', M)).toBe(DEFAULT_ESTIMATES.loadMs);
    expect(e.prefillMs('a', M, 500)).toBe((500 / DEFAULT_ESTIMATES.prefillTokensPerSec) * 1000);
    expect(e.generateTokensPerSec('a', M)).toBe(DEFAULT_ESTIMATES.generateTokensPerSec);
    expect(e.serviceMs('a', M)).toBe(DEFAULT_ESTIMATES.serviceMs);
    expect(e.latencyMs('a')).toBe(DEFAULT_ESTIMATES.serviceMs);
    expect(e.ttftMs('a')).toBe(0);
    expect(e.successRate('a')).toBe(1);
    expect(e.samples('a')).toBe(0);
  });

  test('custom priors are used', () => {
    const e = new Estimates({ loadMs: 1, prefillTokensPerSec: 1_000, generateTokensPerSec: 2, serviceMs: 3 });
    expect([e.loadMs('a', M), e.prefillMs('a', M, 1_000), e.generateTokensPerSec('a', M), e.serviceMs('a', M)]).toEqual([1, 1_000, 2, 3]);
  });

  test('learns load, prefill and generation speed from a final chunk, per node and model', () => {
    const e = new Estimates();
    // A cold request: 3 s of load, then 1 s of work. The load is learned apart from service time.
    e.recordCompletion('a', M, stats({ loadMs: 3_000, promptTokens: 200, promptEvalMs: 100, evalTokens: 50, evalMs: 1_000 }), {
      ...T,
      latencyMs: 4_000,
    });
    expect(e.loadMs('a', M)).toBe(3_000);
    expect(e.prefillMs('a', M, 2_000)).toBeCloseTo(1_000); // 2000 tokens at 2000 tok/s
    expect(e.generateTokensPerSec('a', M)).toBe(50);
    expect(e.serviceMs('a', M)).toBe(1_000);
    expect(e.latencyMs('a')).toBe(4_000);
    expect(e.ttftMs('a')).toBe(100);
    expect(e.samples('a')).toBe(1);
    expect(e.snapshot()).toEqual({ a: { [M]: { loadMs: 3_000, prefillTps: 2_000, generateTps: 50, serviceMs: 1_000 } } });
  });

  test.each<[string, Partial<FinalChunkStats>, { load: number; prefillTps: number; genTps: number }]>([
    ['a hot model’s few-ms load_duration is not a load', { loadMs: 49 }, { load: NaN, prefillTps: NaN, genTps: NaN }],
    ['50 ms counts as a load', { loadMs: 50 }, { load: 50, prefillTps: NaN, genTps: NaN }],
    ['zero prompt tokens teach no prefill speed', { promptTokens: 0, promptEvalMs: 10 }, { load: NaN, prefillTps: NaN, genTps: NaN }],
    ['zero prompt duration teaches no prefill speed', { promptTokens: 10, promptEvalMs: 0 }, { load: NaN, prefillTps: NaN, genTps: NaN }],
    ['zero eval duration teaches no generation speed', { evalTokens: 10, evalMs: 0 }, { load: NaN, prefillTps: NaN, genTps: NaN }],
  ])('%s', (_name, s, expected) => {
    const e = new Estimates();
    e.recordCompletion('a', M, stats(s), T);
    const snap = e.snapshot().a[M];
    expect({ load: snap.loadMs, prefillTps: snap.prefillTps, genTps: snap.generateTps }).toEqual(expected);
    // The balancer's own timing is always learned, less a real load (50 ms or more).
    expect(snap.serviceMs).toBe(1_000 - ((s.loadMs ?? 0) >= 50 ? (s.loadMs ?? 0) : 0));
  });

  test('a completion without a final chunk still teaches latency, ttft, service and success', () => {
    const e = new Estimates();
    e.recordCompletion('a', M, undefined, { ttftMs: 40, latencyMs: 400 });
    expect([e.latencyMs('a'), e.ttftMs('a'), e.serviceMs('a', M), e.successRate('a')]).toEqual([400, 40, 400, 1]);
    expect(e.loadMs('a', M)).toBe(DEFAULT_ESTIMATES.loadMs);
  });

  test('success rate is an EWMA of successes (1) and failures (0)', () => {
    const e = new Estimates(DEFAULT_ESTIMATES, 0.5);
    e.recordFailure('a');
    expect(e.successRate('a')).toBe(0);
    e.recordCompletion('a', M, undefined, T);
    expect(e.successRate('a')).toBe(0.5);
    e.recordFailure('a');
    expect(e.successRate('a')).toBe(0.25);
    expect(e.samples('a')).toBe(1); // failures are not latency samples
  });

  test('a node that has not seen a model borrows the mean of the nodes that have', () => {
    const e = new Estimates();
    e.recordCompletion('a', M, stats({ loadMs: 1_000 }), T);
    e.recordCompletion('b', M, stats({ loadMs: 3_000 }), T);
    e.recordCompletion('b', 'other:latest', stats({ loadMs: 90_000 }), T); // another model does not count
    expect(e.loadMs('c', M)).toBe(2_000);
    expect(e.loadMs('a', M)).toBe(1_000); // its own knowledge wins
  });

  test('the fallback only averages nodes that learned that quantity', () => {
    const e = new Estimates();
    e.recordCompletion('a', M, stats({ loadMs: 4_000 }), T);
    e.recordCompletion('b', M, stats({ loadMs: 10 }), T); // hot: b knows no load time
    expect(e.loadMs('b', M)).toBe(4_000); // b has an entry for M but no load sample: borrows a's
    expect(e.loadMs('c', M)).toBe(4_000);
  });

  test('a model name that is a suffix of another does not borrow from it', () => {
    const e = new Estimates();
    e.recordCompletion('a', 'big-llama3.2:latest', stats({ loadMs: 9_000 }), T);
    expect(e.loadMs('b', M)).toBe(DEFAULT_ESTIMATES.loadMs);
  });

  test('retainNodes drops removed nodes’ knowledge and keeps the rest', () => {
    const e = new Estimates();
    e.recordCompletion('a', M, stats({ loadMs: 1_000 }), T);
    e.recordCompletion('gone', M, stats({ loadMs: 9_000 }), T);
    e.recordFailure('gone');
    e.retainNodes(new Set(['a']));
    expect(e.loadMs('c', M)).toBe(1_000); // the mean no longer includes 'gone'
    expect(e.samples('gone')).toBe(0);
    expect(e.successRate('gone')).toBe(1);
    expect(Object.keys(e.snapshot())).toEqual(['a']);
    expect(e.loadMs('a', M)).toBe(1_000);
  });

  test('EWMA smoothing with the configured alpha', () => {
    const e = new Estimates(DEFAULT_ESTIMATES, 0.5);
    e.recordCompletion('a', M, stats({ loadMs: 1_000 }), T);
    e.recordCompletion('a', M, stats({ loadMs: 3_000 }), T);
    expect(e.loadMs('a', M)).toBe(2_000);
  });
});

describe('Estimates: output lengths', () => {
  const stats = (evalTokens: number): FinalChunkStats => ({ loadMs: 0, promptTokens: 100, promptEvalMs: 100, evalTokens, evalMs: evalTokens * 10, totalMs: 0 });

  test('the typical output is learned per node and model, else the mean elsewhere, else what the priors imply', () => {
    const est = new Estimates();
    expect(est.outputTokens('a', 'm')).toBe((DEFAULT_ESTIMATES.serviceMs * DEFAULT_ESTIMATES.generateTokensPerSec) / 1000);
    est.recordCompletion('a', 'm', stats(40), { ttftMs: 10, latencyMs: 500 });
    est.recordCompletion('b', 'm', stats(200), { ttftMs: 10, latencyMs: 2_100 });
    expect(est.outputTokens('a', 'm')).toBe(40);
    expect(est.outputTokens('c', 'm')).toBe(120);
  });

  test('remainingMs keeps only the recent outputs (a ring), conditioned on what the request has produced', () => {
    const est = new Estimates();
    for (let i = 0; i < 40; i++) est.recordCompletion('a', 'm', stats(i < 8 ? 1_000 : 50), { ttftMs: 10, latencyMs: 100 });
    // The eight 1 000-token outputs were the oldest and have left the ring: after 100 ms of prefill
    // and 10 ms a token, a request that has produced 20 tokens has 30 to go.
    expect(est.remainingMs('a', 'm', { promptTokens: 100 }, 300)).toBeCloseTo(300);
  });
});
