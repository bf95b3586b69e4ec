import type { SchedulerEvent } from '../scheduler/scheduler-events';
import { ANNOUNCE_BREAKER, CLAIM_TRIALS } from './lua';
import type { ScriptRunner } from './scripts';

/**
 * Breakers shared by replicas: a breaker that opens or closes on one replica is announced on
 * `<prefix>breakers` (`open|closed <replica> <node>`) and reaches every other one's scheduler as a
 * `breaker-shared` event; the half-open trials of a node are claimed in `<prefix>trial:<node>`, so
 * that one replica at a time sends them and the pool sends no more than `halfOpenRequests` in all.
 */
export class BreakerSync {
  readonly channel: string;

  constructor(
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
    private readonly replicaId: string,
    private readonly post: (evt: SchedulerEvent) => void,
  ) {
    this.channel = `${prefix}breakers`;
  }

  /** Announces this replica's breaker change on `nodeId`. */
  announce(nodeId: string, state: 'open' | 'closed'): Promise<unknown> {
    return this.scripts.run(ANNOUNCE_BREAKER, [this.trialKey(nodeId)], [this.replicaId, this.channel, `${state} ${this.replicaId} ${nodeId}`]);
  }

  /** Claims `nodeId`'s half-open trials for `ttlMs`; whether this replica got them. */
  async claim(nodeId: string, ttlMs: number): Promise<boolean> {
    return (await this.scripts.run(CLAIM_TRIALS, [this.trialKey(nodeId)], [this.replicaId, ttlMs])) === 1;
  }

  /** `open|closed <replica> <node>` from the channel: another replica's breaker changed. */
  onMessage(message: string): void {
    const [state, replica, nodeId] = message.split(' ');
    if (replica === this.replicaId || !nodeId || (state !== 'open' && state !== 'closed')) return;
    this.post({ type: 'breaker-shared', nodeId, state });
  }

  private trialKey(nodeId: string): string {
    return `${this.prefix}trial:${nodeId}`;
  }
}
