import type { BucketConfig } from '../config/types';
import { bucketCapacity, isUnlimited } from '../limits/token-bucket';

/**
 * One replica's share of a node's slots while Redis is out. The replicas last seen alive split each
 * node's slots exactly: each takes `floor(slots / replicas)`, and the remainder goes one slot each to
 * the replicas next in turn from a place that depends on the node, so one replica does not take
 * every node's odd slot. `rank`: this replica's place among them (their ids in order, from 0).
 *
 * The shares add up to the node's slots, never more, as long as the replicas agree on who is alive
 * (each keeps the set of its last heartbeat): so a node with fewer slots than replicas is left to
 * some of them, and the others send it nothing until Redis is back. A ceiling, or a floor of at least
 * one each, would put 3 requests on a node of 1 slot with 3 replicas.
 *
 * @example slotShare(4, 3, 0, 'gpu-1') + slotShare(4, 3, 1, 'gpu-1') + slotShare(4, 3, 2, 'gpu-1'); // 4
 */
export function slotShare(slots: number, replicas: number, rank: number, nodeId: string): number {
  const n = Math.max(1, Math.floor(replicas));
  const turn = (((rank - turnOf(nodeId, n)) % n) + n) % n;
  return Math.floor(slots / n) + (turn < slots % n ? 1 : 0);
}

/** Where a node's odd slots start among `n` replicas: the same on every replica (a hash of its id). */
function turnOf(nodeId: string, n: number): number {
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < nodeId.length; i++) h = Math.imul(h ^ nodeId.charCodeAt(i), 0x01000193) >>> 0;
  return h % n;
}

/**
 * One replica's share of a node's rate limit while Redis is out: the rate divided by the replicas
 * seen, and the burst likewise, rounded down but at least one token (a bucket of none would refuse
 * every request; a rate, unlike a slot, is not broken by a burst of one token too many).
 *
 * @example localRateShare({ rps: 6, burst: 6 }, 3); // { rps: 2, burst: 2 }
 */
export function localRateShare(bucket: BucketConfig, replicas: number): BucketConfig {
  if (isUnlimited(bucket) || replicas <= 1) return bucket;
  return { rps: bucket.rps / replicas, burst: Math.max(1, Math.floor(bucketCapacity(bucket) / replicas)) };
}
