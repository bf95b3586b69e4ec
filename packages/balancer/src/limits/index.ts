/** Rate limits: token buckets, and the global / per-client / per-node limiter built on them. */
export { TokenBucket, bucketCapacity, isUnlimited, sameBucketConfig, type TakeResult } from './token-bucket';
export { RateLimiter, rateLimitSettings, DEFAULT_MAX_CLIENTS, type RateLimitSettings } from './rate-limiter';
