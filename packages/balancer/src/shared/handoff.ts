import type { Contender } from '../scheduler/shared-slots';
import { BATCH_OFFSET, WANT } from './handoff-lua';
import type { ScriptRunner } from './scripts';
import { toWall } from './wall-clock';

/** Extra keys and arguments a lease script takes for the handoff. */
export interface HandoffArgs {
  readonly keys: string[];
  readonly args: (string | number)[];
}

/** A grant published by a release that handed a node's freed slot to a replica (`HANDOFF`). */
export interface Grant {
  readonly nodeId: string;
  readonly replica: string;
  /** The lease's member in Redis, `<replica>#-<n>`. */
  readonly member: string;
  /** Its lease id, as the replica names its leases (negative: made by Redis, never by the gate). */
  readonly lease: number;
  /** The node's leases after the handoff. */
  readonly held: number;
}

/**
 * This replica's side of the handoff of freed slots (`handoff-lua.ts`): the keys and arguments the
 * lease scripts take for it, the grants on this replica's own channel, and its contender entries.
 * The scheduler says after each pass which nodes its waiters wait for ({@link contend}); only
 * entries that changed, or are a third of the TTL old (so they stay fresh), are written, in one
 * call, and all are withdrawn once no waiter is left: Redis traffic per pass stays bounded.
 */
export class HandoffSync {
  /** What this replica's entries in Redis say, by node: the score and when it was written (epoch ms). */
  private readonly sent = new Map<string, { score: number; at: number }>();
  /** This replica's grant channel (`<prefix>grant:<replica>`): a grant published there with nobody listening goes to the next contender. */
  readonly channel: string;

  constructor(
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
    private readonly replicaId: string,
    private readonly ttlMs: number,
    /** The scheduler's clock: arrivals are on it, in wall time in Redis. */
    private readonly clock: () => number,
  ) {
    this.channel = `${prefix}grant:${replicaId}`;
  }

  /** The score of a waiter: its arrival in wall-clock ms, batch behind every interactive waiter. */
  score(want: Contender): number {
    return Math.round(toWall(want.arrivedAt, this.clock)) + (want.batch ? BATCH_OFFSET : 0);
  }

  /** What `ACQUIRE` takes to record this replica as a contender if the node is full (nothing without a waiter). */
  acquireArgs(nodeId: string, want: Contender | undefined): HandoffArgs {
    if (!want) return { keys: [], args: [] };
    const score = this.score(want);
    this.sent.set(nodeId, { score, at: Date.now() });
    return { keys: this.wantKeys(nodeId), args: [score, this.replicaId] };
  }

  /** What `RELEASE_HELD` takes to hand a freed slot on (nothing without the node's max: announced only). */
  releaseArgs(nodeId: string, max: number | undefined, rate: { key: string; args: number[] }): HandoffArgs {
    if (max === undefined || max <= 0) return { keys: [], args: [] };
    return {
      keys: [...this.wantKeys(nodeId), `${this.prefix}replicas`, `${this.prefix}handoff-seq`, rate.key],
      args: [max, this.ttlMs, ...rate.args, `${this.prefix}grant:`],
    };
  }

  /** A grant on this replica's grant channel, or undefined when the message is not one. */
  parse(message: string): Grant | undefined {
    if (!message.startsWith('{') || !message.includes('"h"')) return undefined;
    let w: { h?: unknown; n?: unknown; r?: unknown; k?: unknown; c?: unknown };
    try {
      w = JSON.parse(message) as typeof w;
    } catch {
      return undefined;
    }
    if (w.h !== 1 || typeof w.n !== 'string' || typeof w.r !== 'string' || typeof w.k !== 'string' || typeof w.c !== 'number') return undefined;
    const lease = Number(w.k.slice(w.k.lastIndexOf('#') + 1));
    if (!Number.isInteger(lease) || lease >= 0) return undefined;
    // Redis removed the entry with the grant: the next pass writes it again if waiters remain.
    if (w.r === this.replicaId) this.sent.delete(w.n);
    return { nodeId: w.n, replica: w.r, member: w.k, lease, held: w.c };
  }

  /**
   * After a scheduling pass: the first waiter (in queue order) of each node this replica's waiters
   * wait for, or null when no waiter is left (every entry is withdrawn). Entries for nodes not named
   * stay until they are stale, and a release skips them then.
   */
  contend(wants: ReadonlyMap<string, Contender> | null): Promise<unknown> | undefined {
    const now = Date.now();
    const write = new Map<string, number | ''>();
    if (wants === null) {
      for (const nodeId of this.sent.keys()) write.set(nodeId, '');
      this.sent.clear();
    } else {
      for (const [nodeId, want] of wants) {
        const score = this.score(want);
        const last = this.sent.get(nodeId);
        // Within a few ms is the same arrival (the clocks' offset is read again each time).
        if (last && Math.abs(last.score - score) <= 2 && now - last.at < this.ttlMs / 3) continue;
        write.set(nodeId, score);
        this.sent.set(nodeId, { score, at: now });
      }
    }
    if (write.size === 0) return undefined;
    const keys: string[] = [];
    for (const nodeId of write.keys()) keys.push(...this.wantKeys(nodeId));
    return this.scripts.run(WANT, keys, [this.replicaId, this.ttlMs, ...write.values()]);
  }

  /** Redis went out: what it holds of this replica's entries is unknown (they go stale there). */
  forget(): void {
    this.sent.clear();
  }

  private wantKeys(nodeId: string): string[] {
    return [`${this.prefix}want:${nodeId}`, `${this.prefix}want-at:${nodeId}`];
  }
}
