/**
 * The Lua scripts that keep what each lease's request is (its holder) beside the lease. A node's
 * holders are a hash (`<prefix>holders:<node>`) beside its lease set (`<prefix>slots:<node>`, see
 * `lua.ts`): field the lease's member, value the holder as JSON (`holder-sync.ts`). A holder lives
 * no longer than its lease: it is written only while the lease is in the set, removed with it on
 * release, and the expired leases' holders (swept by `ACQUIRE` or `RENEW`) are removed at the next
 * renewal round by {@link RECONCILE_HOLDERS}.
 */

import { HANDOFF } from './handoff-lua';
import { BUCKET, NOW } from './lua';

/**
 * KEYS[1] the node's lease set, KEYS[2] its holders; ARGV member, holder JSON, ttlMs, channel.
 * Keeps the holder of a lease still held and announces it (the JSON is the message); returns 1, or
 * 0 when the lease is gone (released, or expired) and nothing was written.
 */
export const BIND_HOLDER = `if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1`;

/**
 * KEYS[1] the node's lease set, KEYS[2] its holders, optionally KEYS[3..7] the node's contender set
 * and times, the replicas' heartbeat set, the handoff counter and the node's rate bucket; ARGV
 * member, channel, nodeId, gone message, then with those keys the node's max, ttlMs, rps,
 * capacity and the prefix of the replicas' grant channels. Removes the lease and its holder and announces the holder gone; when the node then has
 * a free slot, hands it to its oldest fresh, alive contender (`HANDOFF`, which publishes the grant).
 * Then the node's count (unchanged by a handoff; a count below the max makes waiting replicas offer
 * their waiters, who then see the holder gone). Returns the count.
 */
export const RELEASE_HELD = `${NOW}
${BUCKET}
${HANDOFF}
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local held = redis.call('ZCARD', KEYS[1])
if redis.call('HDEL', KEYS[2], ARGV[1]) > 0 then redis.call('PUBLISH', ARGV[2], ARGV[4]) end
if removed > 0 and KEYS[3] and held < tonumber(ARGV[5]) then
  held = held + handoff(KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[3], ARGV[9], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
end
if removed > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. held) end
return held`;

/**
 * KEYS[1] the node's lease set, KEYS[2] its holders; ARGV ttlMs, then pairs of this replica's
 * (member, holder JSON). Writes this replica's holders back (a restarted Redis lost them; only for
 * leases in the set), removes every holder whose lease is gone or expired, and returns the rest as
 * {member, JSON, member, JSON, …}.
 */
export const RECONCILE_HOLDERS = `${NOW}
for i = 2, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
local all = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #all, 2 do
  local score = redis.call('ZSCORE', KEYS[1], all[i])
  if score and tonumber(score) > now then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[2], all[i])
  end
end
if #out > 0 then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[1]) * 2) end
return out`;
