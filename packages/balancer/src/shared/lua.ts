/**
 * The Lua scripts of the Redis backend. Each runs atomically in Redis, which is what makes a lease
 * safe across replicas: the count of a node's leases and the add of a new one are one step, so two
 * replicas can never both take a node's last slot.
 *
 * A node's leases are a sorted set (`<prefix>slots:<node>`): member `<replica>#<lease>`, score the
 * time it expires (Redis's own clock, `TIME`, so replicas' clocks need not agree). Expired members
 * are swept before every count: a replica that died gives its slots back within the TTL. Rate
 * limits are token buckets in hashes (`<prefix>rate:global`, `rate:client:<hash>`, `rate:node:<node>`).
 */

import { CONTEND } from './handoff-lua';

/** Milliseconds of Redis's clock (scripts run with effects replication, so `TIME` is allowed before writes). */
export const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * A token bucket in a hash (tokens `t`, updated `ts`), the same arithmetic as the local
 * `TokenBucket`: `rps` tokens a second refill it up to `cap`, it starts full, and rps 0 turns it off
 * (`level` nil). The settings come with every call, so a reload applies at the next one, a level
 * carried over and clamped to the new capacity. `wait` is the ms until one token (0: there is one).
 */
export const BUCKET = `local function level(key, rps, cap)
  if rps <= 0 then return nil end
  local v = redis.call('HMGET', key, 't', 'ts')
  local tokens = tonumber(v[1])
  local ts = tonumber(v[2])
  if tokens == nil or ts == nil then return cap end
  return math.min(cap, tokens + math.max(0, now - ts) * rps / 1000)
end
local function wait(tokens, rps)
  if tokens == nil or tokens >= 1 - 1e-9 then return 0 end
  return math.ceil((1 - tokens) * 1000 / rps)
end
local function take(key, tokens, rps, cap)
  if tokens == nil then return end
  redis.call('HSET', key, 't', tostring(tokens - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(cap * 1000 / rps) + 1000)
end`;

/**
 * KEYS[1] the node's set, KEYS[2] the node's rate bucket, optionally KEYS[3], KEYS[4] the node's
 * contender set and times (`handoff-lua.ts`); ARGV member, max, ttlMs, channel, nodeId, the node's
 * rps and capacity (rps 0: no per-node rate), then with the contender keys the ask's score and the
 * replica id. A lease is granted with a token of the node's bucket or not at all, so a bind gets
 * both or neither: a full node takes no token, and a node over its rate gives no slot. An ask
 * refused because the node is full (not for its rate) records the replica as a contender, so a
 * release hands it the slot in its turn. Returns {granted 0|1, held after, expired leases swept, ms
 * until the node has a token (0 unless refused for its rate)}. A sweep that freed slots is announced.
 */
export const ACQUIRE = `${NOW}
${BUCKET}
${CONTEND}
local swept = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
local ttl = tonumber(ARGV[3])
local granted = 0
local rateWait = 0
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  granted = 1
elseif held < tonumber(ARGV[2]) then
  local rps, cap = tonumber(ARGV[6]), tonumber(ARGV[7])
  local tokens = level(KEYS[2], rps, cap)
  rateWait = wait(tokens, rps)
  if rateWait == 0 then
    take(KEYS[2], tokens, rps, cap)
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
    held = held + 1
    granted = 1
  end
end
if granted == 1 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
if granted == 0 and rateWait == 0 and KEYS[3] and ARGV[8] and ARGV[8] ~= '' then contend(KEYS[3], KEYS[4], ARGV[9], ARGV[8], ttl) end
if swept > 0 and granted == 0 then redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. held) end
return {granted, held, swept, rateWait}`;

// A lease is released with its holder: `RELEASE_HELD` in holder-lua.ts.

/**
 * KEYS[1] the node's set; ARGV ttlMs, channel, nodeId, then this replica's members. Renews (or,
 * after Redis lost them, re-adds) the replica's leases, then sweeps the expired ones; returns
 * {held, swept}, and announces a sweep that freed slots.
 */
export const RENEW = `${NOW}
local ttl = tonumber(ARGV[1])
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
local swept = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held > 0 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
if swept > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. held) end
return {held, swept}`;

/**
 * KEYS[1] the replicas' set (member: replica id, score: when its heartbeat expires); ARGV replica
 * id, ttlMs, and optionally a time (Redis ms). Heartbeat: returns {the ids of the replicas alive,
 * Redis's time now, replicas whose last heartbeat came at or after the time given (0 without one)}.
 */
export const HEARTBEAT = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local fresh = 0
if ARGV[3] then fresh = redis.call('ZCOUNT', KEYS[1], tonumber(ARGV[3]) + ttl, '+inf') end
return {redis.call('ZRANGE', KEYS[1], 0, -1), now, fresh}`;

/**
 * KEYS[1] the global bucket, KEYS[2] the client's (hashes: tokens `t`, updated `ts`); ARGV global
 * rps, capacity, client rps, capacity (rps 0: that limit is off). Takes a token from both or from
 * neither, as the local limiter does; returns {1} or {0, 'global'|'client', ms until a token}.
 */
export const TAKE_TOKENS = `${NOW}
${BUCKET}
local grps, gcap = tonumber(ARGV[1]), tonumber(ARGV[2])
local crps, ccap = tonumber(ARGV[3]), tonumber(ARGV[4])
local g = level(KEYS[1], grps, gcap)
local c = level(KEYS[2], crps, ccap)
local gw, cw = wait(g, grps), wait(c, crps)
if gw > 0 or cw > 0 then
  if gw >= cw then return {0, 'global', gw} end
  return {0, 'client', cw}
end
take(KEYS[1], g, grps, gcap)
take(KEYS[2], c, crps, ccap)
return {1}`;

/** KEYS[1] the node's trial claim; ARGV replica id, ttlMs. The claim is this replica's (new, or already): 1; another's: 0. */
export const CLAIM_TRIALS = `local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/**
 * KEYS[1] the node's trial claim; ARGV replica id, channel, message. Announces a breaker's change,
 * and gives the claim up if this replica held it (the next half-open episode is anyone's).
 */
export const ANNOUNCE_BREAKER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/** KEYS[1] the admin state (a hash); ARGV field, value, channel, message. Keeps the change for replicas yet to start, and announces it. */
export const ANNOUNCE_ADMIN = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;
