import { TokenBucket, bucketCapacity, isUnlimited, sameBucketConfig } from '../../src/limits';

describe('TokenBucket', () => {
  it('starts full: burst requests pass at once, the next is refused', () => {
    const b = new TokenBucket({ rps: 2, burst: 4 }, 0);
    for (let i = 0; i < 4; i++) expect(b.tryTake(0)).toEqual({ ok: true });
    expect(b.tryTake(0)).toEqual({ ok: false, retryAfterMs: 500 });
  });

  it.each([
    // [rps, burst, wait ms after draining, expected passes]
    [10, 5, 100, 1],
    [10, 5, 99, 0],
    [10, 5, 250, 2],
    [10, 5, 10_000, 5], // refill stops at capacity
    [1, 1, 999, 0],
    [1, 1, 1000, 1],
    [0.5, 1, 2000, 1],
  ])('rps %p burst %p: %p ms after draining admits %p', (rps, burst, wait, passes) => {
    const b = new TokenBucket({ rps, burst }, 0);
    while (b.tryTake(0).ok);
    let n = 0;
    while (b.tryTake(wait).ok) n++;
    expect(n).toBe(passes);
  });

  it.each([
    [{ rps: 10, burst: 1 }, 0, 100],
    [{ rps: 10, burst: 1 }, 40, 60],
    [{ rps: 3, burst: 1 }, 0, 334], // rounds up: never tells a client to come back too early
    [{ rps: 0.1, burst: 1 }, 0, 10_000],
  ])('retry-after for %j, %p ms after draining, is %p ms', (cfg, after, retry) => {
    const b = new TokenBucket(cfg, 0);
    expect(b.tryTake(0).ok).toBe(true);
    const r = b.tryTake(after);
    expect(r).toEqual({ ok: false, retryAfterMs: retry });
    // Coming back exactly when told succeeds.
    expect(b.tryTake(after + retry).ok).toBe(true);
  });

  it('rps 0 is unlimited, whatever the burst', () => {
    const b = new TokenBucket({ rps: 0, burst: 0 }, 0);
    for (let i = 0; i < 10_000; i++) expect(b.tryTake(0).ok).toBe(true);
    expect(b.available(0)).toBe(Infinity);
    expect(isUnlimited({ rps: 0, burst: 7 })).toBe(true);
  });

  it('burst 0 means one second of tokens (at least 1)', () => {
    expect(bucketCapacity({ rps: 5, burst: 0 })).toBe(5);
    expect(bucketCapacity({ rps: 0.2, burst: 0 })).toBe(1);
    expect(bucketCapacity({ rps: 5, burst: 20 })).toBe(20);
    expect(sameBucketConfig({ rps: 5, burst: 0 }, { rps: 5, burst: 5 })).toBe(true);
    expect(sameBucketConfig({ rps: 0, burst: 3 }, { rps: 0, burst: 9 })).toBe(true);
    expect(sameBucketConfig({ rps: 5, burst: 5 }, { rps: 6, burst: 5 })).toBe(false);
  });

  it('takes n tokens, or none; n above capacity can never pass', () => {
    const b = new TokenBucket({ rps: 1, burst: 3 }, 0);
    expect(b.tryTake(0, 2).ok).toBe(true);
    expect(b.tryTake(0, 2)).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(b.available(0)).toBe(1);
    expect(b.tryTake(0, 4)).toEqual({ ok: false, retryAfterMs: Infinity });
  });

  it('peek does not consume', () => {
    const b = new TokenBucket({ rps: 1, burst: 1 }, 0);
    expect(b.peek(0).ok).toBe(true);
    expect(b.peek(0).ok).toBe(true);
    expect(b.tryTake(0).ok).toBe(true);
    expect(b.peek(0).ok).toBe(false);
  });

  it('a clock stepping back neither refills nor drains', () => {
    const b = new TokenBucket({ rps: 1, burst: 2 }, 1000);
    b.tryTake(1000);
    expect(b.available(500)).toBe(1);
    expect(b.available(2000)).toBe(2);
  });

  it.each([
    // [from, to, level before, expected level after]
    [{ rps: 1, burst: 10 }, { rps: 1, burst: 10 }, 3, 3],
    [{ rps: 1, burst: 10 }, { rps: 2, burst: 10 }, 3, 3], // carried over
    [{ rps: 1, burst: 10 }, { rps: 1, burst: 2 }, 3, 2], // clamped to the new capacity
    [{ rps: 0, burst: 0 }, { rps: 1, burst: 4 }, Infinity, 4], // was unlimited: starts full
  ])('reconfigure %j -> %j keeps level %p as %p', (from, to, before, after) => {
    const b = new TokenBucket(from, 0);
    if (Number.isFinite(before)) b.tryTake(0, 10 - before);
    expect(b.available(0)).toBe(before);
    b.reconfigure(to, 0);
    expect(b.available(0)).toBe(after);
    expect(b.config).toEqual(to);
  });
});
