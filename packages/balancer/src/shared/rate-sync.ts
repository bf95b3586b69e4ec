import { createHash } from 'node:crypto';
import { clientBucketConfig, type RateLimitSettings } from '../limits/rate-limiter';
import { bucketCapacity, isUnlimited } from '../limits/token-bucket';
import { TAKE_TOKENS } from './lua';
import type { ScriptRunner } from './scripts';

/** Redis's verdict on a request's shared global and per-key limits. */
export type RateVerdict = { ok: true } | { ok: false; limit: 'global' | 'client'; retryAfterMs: number };

const OFF = { rps: 0, burst: 0 };

/**
 * The rate limits replicas share: token buckets in Redis (`<prefix>rate:global`,
 * `<prefix>rate:client:<hash of the key>`, `<prefix>rate:node:<node>`), with the local
 * `TokenBucket`'s arithmetic (`lua.ts`). The limits are read at each check, so a reload applies at
 * once. A node's bucket is taken in the slot lease's own script (both or neither), so only its key
 * and arguments come from here.
 */
export class RateSync {
  constructor(
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
    private readonly limits: () => RateLimitSettings,
  ) {}

  /** The node's bucket key and its script arguments (rps 0: no limit). */
  nodeBucket(nodeId: string): { key: string; args: number[] } {
    return { key: `${this.prefix}rate:node:${nodeId}`, args: bucketArgs(this.limits().perNode) };
  }

  /** Takes a token of the global and the key's buckets (both or neither); undefined when neither limit applies. */
  check(clientKey: string | undefined): Promise<RateVerdict> | undefined {
    const settings = this.limits();
    const g = settings.global;
    const c = clientKey ? clientBucketConfig(settings, clientKey) : OFF;
    if (isUnlimited(g) && isUnlimited(c)) return undefined;
    // The key's name is hashed: an API key must not appear in Redis's keyspace.
    const clientBucket = `${this.prefix}rate:client:${clientKey ? createHash('sha256').update(clientKey).digest('hex').slice(0, 32) : '-'}`;
    return this.scripts.run(TAKE_TOKENS, [`${this.prefix}rate:global`, clientBucket], [...bucketArgs(g), ...bucketArgs(c)]).then((r) => {
      const [ok, limit, ms] = r as [number, 'global' | 'client', number];
      return ok === 1 ? { ok: true } : { ok: false, limit, retryAfterMs: ms };
    });
  }
}

/** A bucket as the scripts take it: rps (0: off) and capacity. */
function bucketArgs(b: { rps: number; burst: number }): number[] {
  return isUnlimited(b) ? [0, 0] : [b.rps, bucketCapacity(b)];
}
