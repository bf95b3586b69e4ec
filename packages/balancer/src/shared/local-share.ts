import type { BucketConfig } from '../config/types';
import { bucketCapacity, isUnlimited } from '../limits/token-bucket';

/**
 * One replica's share of a node's slots while Redis is out: `floor(slots / replicas)`, at least
 * one. Not the ceiling: with 4 slots and 3 replicas that is 2 each, 6 in all; the floor keeps the
 * node within its slots whenever it has at least as many slots as there are replicas.
 *
 * @example localShare(4, 3); // 1
 */
export function localShare(slots: number, replicas: number): number {
  return Math.max(1, Math.floor(slots / Math.max(1, replicas)));
}

/**
 * One replica's share of a node's rate limit while Redis is out: the rate divided by the replicas
 * seen, and the burst cut as slots are ({@link localShare}), so all replicas together stay within
 * the node's rate (and its burst, when it is at least the number of replicas).
 *
 * @example localRateShare({ rps: 6, burst: 6 }, 3); // { rps: 2, burst: 2 }
 */
export function localRateShare(bucket: BucketConfig, replicas: number): BucketConfig {
  if (isUnlimited(bucket) || replicas <= 1) return bucket;
  return { rps: bucket.rps / replicas, burst: localShare(bucketCapacity(bucket), replicas) };
}
