import type { BucketConfig } from '../config/types';

/**
 * The answer of a bucket: granted, or refused with how long until it would be granted.
 *
 * @example
 * const r: TakeResult = bucket.tryTake(now);
 * if (!r.ok) setHeader('retry-after', Math.ceil(r.retryAfterMs / 1000));
 */
export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

const GRANTED: TakeResult = Object.freeze({ ok: true });

// Refill arithmetic in floating point can land a hair under a whole token (0.1 * 10 ms …); without
// the slack a request arriving exactly on time would be refused for 1 ms.
const EPSILON = 1e-9;

/**
 * The capacity a config gives: `burst`, or one second's worth of tokens (at least 1) when `burst`
 * is 0, so the seed's `{ rps: 5, burst: 0 }` means "5 per second, no extra burst".
 *
 * @example
 * bucketCapacity({ rps: 5, burst: 0 }); // 5
 * bucketCapacity({ rps: 5, burst: 20 }); // 20
 */
export function bucketCapacity(cfg: BucketConfig): number {
  if (cfg.burst > 0) return cfg.burst;
  return Math.max(1, cfg.rps);
}

/**
 * True when two configs behave identically (so a reload may keep the bucket as it is).
 *
 * @example
 * sameBucketConfig({ rps: 5, burst: 0 }, { rps: 5, burst: 5 }); // true: same capacity
 */
export function sameBucketConfig(a: BucketConfig, b: BucketConfig): boolean {
  if (isUnlimited(a) || isUnlimited(b)) return isUnlimited(a) === isUnlimited(b);
  return a.rps === b.rps && bucketCapacity(a) === bucketCapacity(b);
}

/**
 * `rps <= 0` (or not a number) turns a limit off.
 *
 * @example
 * isUnlimited({ rps: 0, burst: 10 }); // true
 */
export function isUnlimited(cfg: BucketConfig): boolean {
  return !(cfg.rps > 0);
}

/**
 * A token bucket: `rps` tokens per second refill it up to its capacity (`burst`). It starts full.
 * Time is passed in (epoch or monotonic ms, as long as the caller is consistent), so tests control
 * it and the owner (the scheduler, single writer) needs no timers. `rps: 0` means unlimited.
 *
 * @example
 * const b = new TokenBucket({ rps: 2, burst: 4 }, now);
 * const r = b.tryTake(now);
 * if (!r.ok) reply429(Math.ceil(r.retryAfterMs / 1000));
 */
export class TokenBucket {
  private cfg: BucketConfig;
  private capacity: number;
  private tokens: number;
  private updatedAt: number;

  constructor(cfg: BucketConfig, now: number) {
    this.cfg = { rps: cfg.rps, burst: cfg.burst };
    this.capacity = bucketCapacity(cfg);
    this.tokens = this.capacity;
    this.updatedAt = now;
  }

  /** The settings in force. */
  get config(): Readonly<BucketConfig> {
    return this.cfg;
  }

  /** Tokens available at `now` (Infinity when unlimited). */
  available(now: number): number {
    if (isUnlimited(this.cfg)) return Infinity;
    this.refill(now);
    return this.tokens;
  }

  /** Whether `n` tokens could be taken at `now`, without taking them. */
  peek(now: number, n = 1): TakeResult {
    if (isUnlimited(this.cfg)) return GRANTED;
    this.refill(now);
    if (this.tokens + EPSILON >= n) return GRANTED;
    // More than the bucket can ever hold: no wait will help.
    if (n > this.capacity) return { ok: false, retryAfterMs: Infinity };
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(((n - this.tokens) * 1000) / this.cfg.rps)) };
  }

  /** Takes `n` tokens if they are there; otherwise takes nothing and says how long to wait. */
  tryTake(now: number, n = 1): TakeResult {
    const r = this.peek(now, n);
    if (r.ok && !isUnlimited(this.cfg)) this.tokens = Math.max(0, this.tokens - n);
    return r;
  }

  /** Whether the bucket has refilled completely by `now`: it then equals a fresh one. */
  isFull(now: number): boolean {
    return this.available(now) >= this.capacity;
  }

  /**
   * New settings from a config reload. The level is carried over (clamped to the new capacity), so
   * tightening a limit under load does not hand every client a fresh burst; a bucket that was
   * unlimited starts full.
   */
  reconfigure(cfg: BucketConfig, now: number): void {
    if (sameBucketConfig(this.cfg, cfg)) {
      this.cfg = { rps: cfg.rps, burst: cfg.burst };
      return;
    }
    const wasUnlimited = isUnlimited(this.cfg);
    this.refill(now);
    this.cfg = { rps: cfg.rps, burst: cfg.burst };
    this.capacity = bucketCapacity(cfg);
    this.tokens = wasUnlimited ? this.capacity : Math.min(this.tokens, this.capacity);
    this.updatedAt = now;
  }

  private refill(now: number): void {
    // A clock that steps back must not drain the bucket; the next forward step refills from here.
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.cfg.rps) / 1000);
      this.updatedAt = now;
    }
  }
}
