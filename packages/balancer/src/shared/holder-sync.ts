import type { ReplicaMetrics } from '../metrics-replicas';
import type { RemoteHolder } from '../scheduler/scheduler-events';
import type { SchedulerEvent } from '../scheduler/scheduler-events';
import { BIND_HOLDER, RECONCILE_HOLDERS, RELEASE_HELD } from './holder-lua';
import type { HandoffArgs } from './handoff';
import type { ScriptRunner } from './scripts';
import { fromWall, toWall } from './wall-clock';

/** A holder as JSON, in Redis and on the channel: node, replica, lease member, then the request. */
interface Wire {
  n: string;
  r: string;
  k: string;
  /** Model, options signature, start (epoch ms), prompt tokens, output cap, bound cold (1). */
  m?: string;
  s?: string;
  t?: number;
  p?: number;
  o?: number;
  c?: number;
  /** Present (1) on a release: the holder is gone. */
  g?: number;
}

/**
 * The holders of this replica's leases, kept beside the leases in Redis (`holder-lua.ts`) and
 * announced on the slots channel (the one release counts use; a holder's message is JSON, a
 * count's is `<node> <held>`), and the other replicas' holders as they arrive, posted to the
 * scheduler as `remote-holders-changed` events. Each renewal round reconciles: this replica's
 * holders are written back (a restarted Redis lost them), holders of leases gone or expired are
 * removed, and what is left is posted as every node's full list, so a missed message or a dead
 * replica's holders go away with their leases.
 */
export class HolderSync {
  /** This replica's holders by lease member: the node and the JSON. */
  private readonly own = new Map<string, { nodeId: string; json: string }>();
  /** Each node's other-replica holders at the last reconcile, to post once shared. */
  private last = new Map<string, { lease: string; holder: RemoteHolder }[]>();

  constructor(
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
    private readonly replicaId: string,
    private readonly channel: string,
    private readonly post: (evt: SchedulerEvent) => void,
    /** The scheduler's clock: holders' starts are on it in events, in wall time in Redis. */
    private readonly clock: () => number,
    private readonly metrics?: ReplicaMetrics,
  ) {}

  /** A request of this replica took lease `member`: kept (for the rounds), written and announced when `shared`. */
  bind(nodeId: string, member: string, h: RemoteHolder, leaseKey: string, ttlMs: number, shared: boolean): Promise<unknown> | undefined {
    const t = toWall(h.startedAt, this.clock);
    const w: Wire = { n: nodeId, r: this.replicaId, k: member, m: h.model, s: h.optionsSignature, t, p: h.work.promptTokens, c: h.cold ? 1 : 0 };
    if (h.work.outputTokens !== undefined) w.o = h.work.outputTokens;
    const json = JSON.stringify(w);
    this.own.set(member, { nodeId, json });
    return shared ? this.scripts.run(BIND_HOLDER, [leaseKey, this.key(nodeId)], [member, json, ttlMs, this.channel]) : undefined;
  }

  /** Lease `member` was given back while Redis is out: its holder is not written again (Redis drops both with the lease). */
  forget(member: string): void {
    this.own.delete(member);
  }

  /**
   * Gives lease `member` back with its holder (the release script of every lease, holder or not);
   * `handoff`: the keys and arguments that let the script hand the freed slot on (`handoff.ts`).
   */
  release(nodeId: string, member: string, leaseKey: string, handoff: HandoffArgs = { keys: [], args: [] }): Promise<unknown> {
    this.own.delete(member);
    const gone = JSON.stringify({ n: nodeId, r: this.replicaId, k: member, g: 1 } satisfies Wire);
    return this.scripts.run(RELEASE_HELD, [leaseKey, this.key(nodeId), ...handoff.keys], [member, this.channel, nodeId, gone, ...handoff.args]);
  }

  /** A message on the slots channel: true when it was a holder's (posted as an event unless it is this replica's own). */
  onMessage(message: string): boolean {
    if (!message.startsWith('{')) return false;
    let w: Wire;
    try {
      w = JSON.parse(message) as Wire;
    } catch {
      return false; // a node id that starts with '{': a count
    }
    if (typeof w.n !== 'string' || typeof w.k !== 'string') return false;
    if (w.r === this.replicaId) return true;
    if (w.g === 1) this.post({ type: 'remote-holders-changed', nodeId: w.n, gone: w.k });
    else {
      const holder = this.holderOf(w);
      if (holder) this.post({ type: 'remote-holders-changed', nodeId: w.n, bound: { lease: w.k, holder } });
    }
    return true;
  }

  /**
   * At a renewal round, after the leases' renewal and sweep (sent before this, on one connection,
   * so run before it): every node's holders reconciled, the others' kept for {@link postAll}.
   */
  async reconcile(nodeIds: readonly string[], leaseKey: (nodeId: string) => string, ttlMs: number): Promise<void> {
    const answers = await Promise.all(
      nodeIds.map((id) => {
        const mine: string[] = [];
        for (const [member, o] of this.own) if (o.nodeId === id) mine.push(member, o.json);
        return this.scripts.run(RECONCILE_HOLDERS, [leaseKey(id), this.key(id)], [ttlMs, ...mine]);
      }),
    );
    const last = new Map<string, { lease: string; holder: RemoteHolder }[]>();
    nodeIds.forEach((id, i) => {
      const flat = answers[i] as string[];
      const list: { lease: string; holder: RemoteHolder }[] = [];
      for (let j = 0; j + 1 < flat.length; j += 2) {
        if (flat[j].startsWith(`${this.replicaId}#`)) continue;
        let w: Wire;
        try {
          w = JSON.parse(flat[j + 1]) as Wire;
        } catch {
          continue;
        }
        const holder = this.holderOf(w);
        if (holder) list.push({ lease: flat[j], holder });
      }
      last.set(id, list);
    });
    this.last = last;
    let known = 0;
    for (const list of last.values()) known += list.length;
    this.metrics?.setRemoteHolders(known);
  }

  /** Posts every node's other-replica holders as the last reconcile found them. */
  postAll(): void {
    for (const [nodeId, all] of this.last) this.post({ type: 'remote-holders-changed', nodeId, all });
  }

  private key(nodeId: string): string {
    return `${this.prefix}holders:${nodeId}`;
  }

  /** The holder a message or hash value describes, its start on the scheduler's clock; undefined when it is not one. */
  private holderOf(w: Wire): RemoteHolder | undefined {
    if (typeof w.m !== 'string' || !Number.isFinite(w.t) || !Number.isFinite(w.p)) return undefined;
    const work = Number.isFinite(w.o) && w.o! > 0 ? { promptTokens: Math.max(0, w.p!), outputTokens: w.o! } : { promptTokens: Math.max(0, w.p!) };
    return { model: w.m, optionsSignature: typeof w.s === 'string' ? w.s : '', startedAt: fromWall(w.t!, this.clock), work, cold: w.c === 1 };
  }
}
