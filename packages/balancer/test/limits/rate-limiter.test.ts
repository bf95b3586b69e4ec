import type { BucketConfig } from '../../src/config/types';
import { RateLimitedError } from '../../src/errors';
import { RateLimiter, rateLimitSettings, type RateLimitSettings } from '../../src/limits';

const OFF: BucketConfig = { rps: 0, burst: 0 };
const settings = (s: Partial<RateLimitSettings>): RateLimitSettings => ({
  global: OFF,
  perClient: OFF,
  perNode: OFF,
  ...s,
});

/** How many of `n` admissions for `key` at `now` pass. */
function admitted(l: RateLimiter, key: string | undefined, n: number, now = 0): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (l.check(key, now) === null) ok++;
  return ok;
}

describe('RateLimiter', () => {
  it('all off: everything passes and no buckets are kept', () => {
    const l = new RateLimiter(settings({}), 0);
    expect(admitted(l, 'a', 1000)).toBe(1000);
    expect(l.checkNode('n1', 0)).toBeNull();
    expect(l.clientCount).toBe(0);
  });

  it('global limit applies across clients, with a RateLimitedError carrying retry-after', () => {
    const l = new RateLimiter(settings({ global: { rps: 1, burst: 3 } }), 0);
    expect(admitted(l, 'a', 2) + admitted(l, 'b', 2)).toBe(3);
    const err = l.check('c', 0);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err?.limit).toBe('global');
    expect(err?.status).toBe(429);
    expect(err?.retryAfterSec).toBe(1);
    expect(l.check('c', 1000)).toBeNull();
  });

  it('per-client limit isolates clients', () => {
    const l = new RateLimiter(settings({ perClient: { rps: 1, burst: 2 } }), 0);
    expect(admitted(l, 'a', 5)).toBe(2);
    expect(admitted(l, 'b', 5)).toBe(2);
    expect(l.check('a', 0)?.limit).toBe('client');
    expect(admitted(l, undefined, 5)).toBe(5); // no key: global only
  });

  it('retry-after is whole seconds, rounded up, at least 1', () => {
    const l = new RateLimiter(settings({ perClient: { rps: 0.25, burst: 1 } }), 0);
    l.check('a', 0);
    expect(l.check('a', 0)?.retryAfterSec).toBe(4);
    expect(l.check('a', 3500)?.retryAfterSec).toBe(1);
  });

  it('a refusal by one limit takes no token from the other', () => {
    const l = new RateLimiter(settings({ global: { rps: 1, burst: 2 }, perClient: { rps: 1, burst: 1 } }), 0);
    expect(l.check('a', 0)).toBeNull();
    expect(l.check('a', 0)?.limit).toBe('client'); // global must still hold 1 token
    expect(l.check('b', 0)).toBeNull();
    expect(l.check('c', 0)?.limit).toBe('global');
  });

  it('when both refuse, the longer wait is reported', () => {
    const l = new RateLimiter(settings({ global: { rps: 1, burst: 1 }, perClient: { rps: 0.1, burst: 1 } }), 0);
    l.check('a', 0);
    const err = l.check('a', 0);
    expect(err?.limit).toBe('client');
    expect(err?.retryAfterSec).toBe(10);
  });

  it('per-key overrides replace the per-client default, rps 0 = unlimited for that key', () => {
    const l = new RateLimiter(
      rateLimitSettings({
        rateLimit: { global: OFF, perClient: { rps: 1, burst: 1 }, perNode: OFF },
        auth: {
          adminToken: '',
          apiKeys: [{ key: 'sk-gold', rateLimit: { rps: 1, burst: 10 } }, { key: 'sk-free', rateLimit: { rps: 0, burst: 0 } }, { key: 'sk-plain' }],
        },
      }),
      0,
    );
    expect(admitted(l, 'sk-gold', 20)).toBe(10);
    expect(admitted(l, 'sk-free', 500)).toBe(500);
    expect(admitted(l, 'sk-plain', 5)).toBe(1);
    expect(admitted(l, '10.0.0.7', 5)).toBe(1);
  });

  it('per-node limits are separate from admission; nodeAvailable does not consume', () => {
    const l = new RateLimiter(settings({ perNode: { rps: 2, burst: 2 } }), 0);
    expect(l.nodeAvailable('n1', 0)).toBe(true);
    expect(l.nodeAvailable('n1', 0)).toBe(true);
    expect(l.checkNode('n1', 0)).toBeNull();
    expect(l.checkNode('n1', 0)).toBeNull();
    expect(l.nodeAvailable('n1', 0)).toBe(false);
    const err = l.checkNode('n1', 0);
    expect(err?.limit).toBe('node');
    expect(l.checkNode('n2', 0)).toBeNull();
    expect(l.checkNode('n1', 500)).toBeNull();
    l.removeNode('n1');
    expect(admitted(l, 'x', 3)).toBe(3);
  });

  it("shareNodes cuts each node's rate to one replica's share (Redis out), and 1 gives the whole rate back", () => {
    const l = new RateLimiter(settings({ perNode: { rps: 6, burst: 6 } }), 0);
    l.shareNodes(3, 0);
    // A third of the burst, and of the rate: 2 at once, then one every 500 ms.
    expect(l.checkNode('n1', 0)).toBeNull();
    expect(l.checkNode('n1', 0)).toBeNull();
    expect(l.checkNode('n1', 0)).not.toBeNull();
    expect(l.checkNode('n1', 499)).not.toBeNull();
    expect(l.checkNode('n1', 500)).toBeNull();
    // Back to the whole rate: the level carries over (empty), and refills at 6 a second.
    l.shareNodes(1, 500);
    expect(l.checkNode('n1', 500)).not.toBeNull();
    expect(l.checkNode('n1', 667)).toBeNull();
    // A burst smaller than the replicas still leaves each one token.
    const small = new RateLimiter(settings({ perNode: { rps: 1, burst: 2 } }), 0);
    small.shareNodes(3, 0);
    expect(small.checkNode('n1', 0)).toBeNull();
    expect(small.checkNode('n1', 0)).not.toBeNull();
  });

  it('idle clients are evicted once their bucket has refilled', () => {
    const l = new RateLimiter(settings({ perClient: { rps: 10, burst: 10 } }), 0);
    for (let i = 0; i < 100; i++) l.check(`c${i}`, 0);
    expect(l.clientCount).toBe(100);
    // 10 tokens at 10 rps refill within 1 s: by then every old bucket equals a fresh one.
    l.check('late', 1000);
    expect(l.clientCount).toBe(1);
  });

  it('never holds more than maxClients buckets, dropping the least recently used', () => {
    const l = new RateLimiter(settings({ perClient: { rps: 1, burst: 1 }, maxClients: 50 }), 0);
    l.check('hot', 0);
    for (let i = 0; i < 10_000; i++) {
      l.check(`c${i}`, 0);
      if (i % 10 === 0) l.check('hot', 0); // keeps 'hot' at the recent end
      expect(l.clientCount).toBeLessThanOrEqual(50);
    }
    expect(l.check('hot', 0)?.limit).toBe('client'); // its drained bucket survived
  });

  it('reconfigure keeps unchanged buckets, retunes changed ones, drops ones turned off', () => {
    const s = settings({ global: { rps: 1, burst: 2 }, perClient: { rps: 1, burst: 2 }, perNode: { rps: 1, burst: 1 } });
    const l = new RateLimiter(s, 0);
    admitted(l, 'a', 2);
    l.checkNode('n1', 0);

    l.reconfigure({ ...s }, 0); // a reload with equal settings
    expect(l.check('b', 0)?.limit).toBe('global');
    expect(l.checkNode('n1', 0)?.limit).toBe('node');

    l.reconfigure({ ...s, global: { rps: 100, burst: 100 }, perNode: OFF }, 0);
    expect(l.check('a', 100)?.limit).toBe('client'); // client bucket kept its (empty) level
    expect(l.check('b', 100)).toBeNull(); // global refills at its new rate
    expect(l.checkNode('n1', 100)).toBeNull();

    l.reconfigure({ ...s, global: OFF, perClient: OFF }, 0);
    expect(l.clientCount).toBe(0);
    expect(admitted(l, 'a', 100)).toBe(100);
  });

  it('reconfigure to a smaller maxClients trims the map', () => {
    const s = settings({ perClient: { rps: 1, burst: 1 } });
    const l = new RateLimiter(s, 0);
    for (let i = 0; i < 30; i++) l.check(`c${i}`, 0);
    l.reconfigure({ ...s, maxClients: 10 }, 0);
    expect(l.clientCount).toBe(10);
  });
});
