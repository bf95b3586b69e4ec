/** `retry` from the config. */
export interface RetryConfig {
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  backoffMultiplier: number;
}

/**
 * Backoff before retry number `attempt` (1 for the first retry): exponential, capped, with full
 * jitter in the upper half so that a burst of failures does not retry in lock-step.
 *
 * @example
 * backoffMs({ maxRetries: 3, initialBackoffMs: 100, maxBackoffMs: 5000, backoffMultiplier: 2 }, 2); // 100..200
 */
export function backoffMs(cfg: RetryConfig, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(cfg.maxBackoffMs, cfg.initialBackoffMs * cfg.backoffMultiplier ** Math.max(0, attempt - 1));
  return base / 2 + random() * (base / 2);
}
