import type { BucketConfig } from '../config/types';
import { bucketCapacity, isUnlimited } from '../limits/token-bucket';

/**
 * One replica's share of each node's slots while Redis is out. The replicas last seen alive split
 * each node's slots exactly: each takes `floor(slots / replicas)`, and the remainders go one slot
 * each to the replicas in turn, node after node (in the order of their ids), so that every
 * replica's share of the whole pool is within one slot of every other's. `rank`: this replica's
 * place among them (their ids in order, from 0).
 *
 * The shares add up to each node's slots, never more, as long as the replicas agree on who is alive
 * (each keeps the set of its last heartbeat) and on the nodes (the same config): a node with fewer
 * slots than replicas is left to some of them. A ceiling, or a floor of at least one each, would put
 * 3 requests on a node of 1 slot with 3 replicas. A pool with fewer slots than replicas leaves some
 * replicas without any until Redis is back.
 *
 * @example slotShares([{ id: 'a', slots: 2 }, { id: 'b', slots: 1 }], 3, 2); // Map { 'a' => 0, 'b' => 1 }
 */
export function slotShares(nodes: readonly { readonly id: string; readonly slots: number }[], replicas: number, rank: number): Map<string, number> {
  const n = Math.max(1, Math.floor(replicas));
  const shares = new Map<string, number>();
  let next = 0; // the replica whose turn it is to take an odd slot
  for (const node of [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const odd = node.slots % n;
    const turn = (((rank - next) % n) + n) % n;
    shares.set(node.id, Math.floor(node.slots / n) + (turn < odd ? 1 : 0));
    next = (next + odd) % n;
  }
  return shares;
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
