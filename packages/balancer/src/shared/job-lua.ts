/**
 * The Lua scripts of the job leases (`job-leases.ts`): who runs a batch job or a workflow run when
 * replicas share one batch data directory. A lease is a plain key (`<prefix>lease:<name>`) holding
 * its holder's token, with a TTL; a script makes each compare-and-act one step in Redis, so that a
 * holder whose lease expired and was taken by another replica can neither renew nor delete it.
 */

/** KEYS[1] the lease; ARGV token, ttlMs. Takes it when free: 1, or 0 (another holds it). */
export const TAKE_JOB_LEASE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return 1 end
return 0`;

/** KEYS[1] the lease; ARGV token, ttlMs. Renews it while it is still this token's: 1, or 0 (expired, or another's). */
export const RENEW_JOB_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0`;

/** KEYS[1] the lease; ARGV token. Gives it back if it is still this token's. */
export const DROP_JOB_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
