/**
 * The Lua side of the handoff of freed slots between replicas (`handoff.ts`). A node's contenders
 * are a sorted set (`<prefix>want:<node>`): member a replica id, score the arrival (wall-clock epoch
 * ms) of the waiter it would serve first, batch waiters pushed behind every interactive one by
 * {@link BATCH_OFFSET}; one entry per replica and node, overwritten by each ask. Beside it a hash
 * (`<prefix>want-at:<node>`): when each entry was written (Redis's clock), so a stale one is skipped.
 */

/**
 * Added to a batch waiter's arrival: ~317 years of ms, so every interactive contender sorts first
 * while batch contenders keep their arrival order, and the sum stays an exact double (< 2^53).
 */
export const BATCH_OFFSET = 1e13;

/**
 * Lua: records (score a number) or withdraws (score '') replica `r`'s entry in a node's contender
 * set `want`, with its time `at` (`now` in scope) in hash `wantAt`; both live twice the lease TTL.
 */
export const CONTEND = `local function contend(want, wantAt, r, score, ttl)
  if score == '' then
    redis.call('ZREM', want, r)
    redis.call('HDEL', wantAt, r)
    return
  end
  redis.call('ZADD', want, tonumber(score), r)
  redis.call('HSET', wantAt, r, now)
  redis.call('PEXPIRE', want, ttl * 2)
  redis.call('PEXPIRE', wantAt, ttl * 2)
end`;

/**
 * Lua (with `now`, `take`, `level`, `wait` of the token bucket in scope): hands one free slot of a
 * node to its oldest contender that asked within `ttl` and whose replica is alive in `replicas`
 * (the heartbeat set, scores = expiry) and connected. The grant is published on the contender's
 * own channel (`grants` .. replica) as JSON `{h, n: node, r: replica, k: member, c: held}`; nobody
 * listening there means its replica is gone (a process killed: Redis closed its connections at once,
 * long before its heartbeat lapses) or reconnecting, and the next contender is tried. Stale, dead and
 * unreachable contenders met on the way are removed. The slot comes with a token of the node's rate
 * bucket (none there: no handoff). The new lease is the contender's own, `<replica>#-<n>` (`n` from
 * the counter `seqKey`, so the id stays a number). Returns 1 when the slot was handed, 0 when it stays free.
 */
export const HANDOFF = `local function handoff(slots, want, wantAt, replicas, seqKey, rateKey, node, grants, ttl, rps, cap)
  while true do
    local first = redis.call('ZRANGE', want, 0, 0)
    if #first == 0 then return 0 end
    local r = first[1]
    local at = tonumber(redis.call('HGET', wantAt, r) or '0')
    local alive = tonumber(redis.call('ZSCORE', replicas, r) or '0')
    if at >= now - ttl and alive > now then
      local tokens = level(rateKey, rps, cap)
      if wait(tokens, rps) > 0 then return 0 end
      local member = r .. '#-' .. redis.call('INCR', seqKey)
      local held = redis.call('ZCARD', slots) + 1
      if redis.call('PUBLISH', grants .. r, cjson.encode({h = 1, n = node, r = r, k = member, c = held})) > 0 then
        take(rateKey, tokens, rps, cap)
        redis.call('ZADD', slots, now + ttl, member)
        redis.call('PEXPIRE', slots, ttl * 2)
        redis.call('ZREM', want, r)
        redis.call('HDEL', wantAt, r)
        return 1
      end
    end
    redis.call('ZREM', want, r)
    redis.call('HDEL', wantAt, r)
  end
end`;

/**
 * KEYS pairs (a node's contender set, its times); ARGV replica id, ttlMs, then one score per pair
 * ('' withdraws the entry). This replica's contention after a scheduling pass, in one call.
 */
export const WANT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
${CONTEND}
local ttl = tonumber(ARGV[2])
for i = 1, #KEYS, 2 do contend(KEYS[i], KEYS[i + 1], ARGV[1], ARGV[3 + (i - 1) / 2], ttl) end
return 1`;
