import Redis from 'ioredis';
import type { RedisStateConfig } from '../config/types';

/**
 * The two connections of a replica to Redis (lazy: connected by `start`): `client` for commands and
 * scripts, which fail at once while Redis is out so the replica falls back rather than waits, and
 * `sub` for pub/sub, whose commands wait for its connection (ioredis subscribes again on reconnect).
 * Both reconnect within a quarter second: each second out of Redis is a second on the local share.
 */
export function redisConnections(cfg: RedisStateConfig): { client: Redis; sub: Redis } {
  const options = {
    lazyConnect: true,
    connectTimeout: cfg.connectTimeoutMs,
    commandTimeout: cfg.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * times, 250),
  };
  const client = new Redis(cfg.url, options);
  const sub = new Redis(cfg.url, { ...options, enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
  // Errors are reported through the commands that fail.
  for (const c of [client, sub]) c.on('error', () => undefined);
  return { client, sub };
}
