// One home for the private redis-server the tests and `bench:replicas` start.
export { freePort, redisClient, startRedis, type RedisServer } from '../../../bench/src/common/redis-server';
