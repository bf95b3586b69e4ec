import type Redis from 'ioredis';
import type { AdminChange } from '../scheduler/control-plane';
import { ANNOUNCE_ADMIN } from './lua';
import type { ScriptRunner } from './scripts';

const ACTIONS = new Set(['enable', 'disable', 'drain']);

/**
 * Admin changes shared by replicas: each change made on one (a node enabled, disabled or drained,
 * the strategy set) is kept in a hash (`<prefix>admin`: `node:<id>` → action, `strategy` → name)
 * and announced on `<prefix>admin`; every other replica applies it through its own control plane,
 * so it reaches its scheduler as the same command event. A replica that joins later applies the
 * hash first, so it starts with the pool's current admin state.
 */
export class AdminSync {
  readonly channel: string;
  private readonly key: string;

  constructor(
    private readonly client: Redis,
    private readonly scripts: ScriptRunner,
    prefix: string,
    private readonly replicaId: string,
    private readonly apply: (change: AdminChange) => void,
  ) {
    this.channel = `${prefix}admin`;
    this.key = `${prefix}admin`;
  }

  /** Keeps and announces a change made here. */
  announce(change: AdminChange): Promise<unknown> {
    const [field, value] = change.kind === 'node' ? [`node:${change.nodeId}`, change.action] : ['strategy', change.name];
    return this.scripts.run(ANNOUNCE_ADMIN, [this.key], [field, value, this.channel, `${this.replicaId} ${field} ${value}`]);
  }

  /** `<replica> <field> <value>` from the channel: another replica's change, applied here. */
  onMessage(message: string): void {
    const [replica, field, value] = message.split(' ');
    if (replica === this.replicaId || field === undefined || value === undefined) return;
    this.applyField(field, value);
  }

  /** Applies every change kept so far (a replica joining). */
  async catchUp(): Promise<void> {
    const all = await this.client.hgetall(this.key);
    for (const [field, value] of Object.entries(all)) this.applyField(field, value);
  }

  private applyField(field: string, value: string): void {
    if (field === 'strategy') this.apply({ kind: 'strategy', name: value });
    else if (field.startsWith('node:') && ACTIONS.has(value)) this.apply({ kind: 'node', nodeId: field.slice(5), action: value as 'enable' | 'disable' | 'drain' });
  }
}
