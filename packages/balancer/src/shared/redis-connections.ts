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

/**
 * Makes sure `sub` listens on `channels`, the first of which only this replica listens on (its grant
 * channel), as Redis itself counts: true when it had to subscribe again (sent, not awaited).
 * ioredis subscribes again after a reconnect; this is the check that it did. A replica whose
 * subscriber listened nowhere would hear no freed slot, count, holder or grant: it would learn of
 * them only at its own rounds, and the others, who hear at once, would take every slot it waits for.
 */
export async function keepListening(client: Redis, sub: Redis, channels: readonly [string, ...string[]]): Promise<boolean> {
  const [, listening] = (await client.pubsub('NUMSUB', channels[0])) as [string, number | string];
  if (Number(listening) > 0) return false;
  // Not awaited: the subscriber may be reconnecting still, and it subscribes once it is back.
  void sub.subscribe(...channels).catch(() => undefined);
  return true;
}
