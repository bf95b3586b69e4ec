import type { ApiKeyConfig } from '../config/types';

/** The label of requests without a client key in `fair_queue_served_total`. */
export const ANONYMOUS_KEY_LABEL = 'anonymous';
/** The label of client keys that are not configured API keys (addresses without auth, a library caller's own keys). */
export const OTHER_KEY_LABEL = 'other';

interface KeyFacts {
  readonly label: string;
  readonly weight: number;
  readonly maxPriority: number;
}

/**
 * What the scheduler knows of each configured API key (`auth.apiKeys`), by the key itself (the
 * gateway's client key of a request that presents it): its fair-queue weight, the highest priority
 * its requests may have, and the name it is counted under (never the secret). Also counts the
 * requests bound per key (`fair_queue_served_total{key}`), by label, so the counts stay few.
 * Owned by the scheduler (single writer); rebuilt from each config.
 */
export class ClientKeys {
  private byKey = new Map<string, KeyFacts>();
  private readonly served = new Map<string, number>();

  constructor(keys: readonly ApiKeyConfig[]) {
    this.configure(keys);
  }

  configure(keys: readonly ApiKeyConfig[]): void {
    const m = new Map<string, KeyFacts>();
    keys.forEach((k, i) => {
      // An unnamed key is counted by its place in the list: its secret never becomes a label.
      m.set(k.key, { label: k.name || `key-${i + 1}`, weight: k.weight ?? 1, maxPriority: k.maxPriority ?? Infinity });
    });
    this.byKey = m;
  }

  /** The key's share of the wait queue (1 unless configured). */
  weight(key: string | undefined): number {
    return key === undefined ? 1 : (this.byKey.get(key)?.weight ?? 1);
  }

  /** The highest priority the key's requests may have (Infinity unless configured). */
  maxPriority(key: string | undefined): number {
    return key === undefined ? Infinity : (this.byKey.get(key)?.maxPriority ?? Infinity);
  }

  /** The name the key is counted under. */
  label(key: string | undefined): string {
    if (key === undefined) return ANONYMOUS_KEY_LABEL;
    return this.byKey.get(key)?.label ?? OTHER_KEY_LABEL;
  }

  /** Counts a request bound for `key`. */
  noteServed(key: string | undefined): void {
    const label = this.label(key);
    this.served.set(label, (this.served.get(label) ?? 0) + 1);
  }

  /** Requests bound since start, by key label. */
  servedCounts(): Record<string, number> {
    return Object.fromEntries(this.served);
  }
}
