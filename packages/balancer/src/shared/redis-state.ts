import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Redis from 'ioredis';
import type { RedisStateConfig } from '../config/types';
import type { Contender, SlotLeasePort } from '../scheduler/shared-slots';
import { ACQUIRE, HEARTBEAT, RENEW } from './lua';
import { RateSync } from './rate-sync';
import { redactCredentials } from '../nodes/node-url';
import { BreakerSync } from './breaker-sync';
import { HolderSync } from './holder-sync';
import type { RemoteHolder } from '../scheduler/scheduler-events';
import type { AdminChange } from '../scheduler/control-plane';
import { AdminSync } from './admin-sync';
import { LearnedSync } from './learned-sync';
import { ScriptRunner } from './scripts';
import { JobLeases } from './job-leases';
import type { RedisStateDeps, SharedStateStatus } from './redis-state-types';
import { HandoffSync, type Grant } from './handoff';
import { keepListening, redisConnections } from './redis-connections';

export type { RedisStateDeps, SharedStateStatus } from './redis-state-types';

/** How often a replica out of Redis tries to rejoin. */
const REJOIN_MS = 1000;
/** How often a replica back from an outage looks whether the others have written their leases back. */
const SETTLE_POLL_MS = 250;

/**
 * The Redis side of `state.backend: redis`: slot leases (Lua scripts, `lua.ts`), their renewal and
 * the sweep of expired ones, the replicas' heartbeat, and the announcement of freed slots on a
 * pub/sub channel. It never touches the pool: every answer goes back to the scheduler as an event
 * ({@link SlotLeasePort}).
 *
 * Trouble is not an outage: any failed or slow command (`commandTimeoutMs`) puts the replica on its
 * local share (a `shared-state-changed` event, logged once); every second it tries to rejoin, which
 * first writes every lease it holds back into Redis (a restarted Redis has none), then tells the
 * scheduler, then each node's count. A lease given back while Redis was out is not renewed, so
 * Redis drops it at its TTL (released at once if Redis answers): nothing leaks, nothing counts twice.
 */
export class RedisSharedState implements SlotLeasePort {
  readonly replicaId: string;
  private readonly client: Redis;
  private readonly sub: Redis;
  private readonly scripts: ScriptRunner;
  private readonly channel: string;
  private readonly breakers: BreakerSync;
  private readonly rates: RateSync;
  private readonly admin: AdminSync;
  private readonly learnedSync: LearnedSync;
  private readonly holders: HolderSync;
  private readonly handoff: HandoffSync;
  private caughtUp = false;
  /** A PING is checking whether a timeout meant Redis is slow. */
  private checking = false;
  /** This replica's leases in Redis (and those to be registered on rejoin), by node. */
  private readonly held = new Map<string, Set<string>>();
  private shared = false;
  private since = Date.now();
  private error: string | undefined = 'not connected yet';
  /** The scheduler has been told Redis is out (once an outage: the log and the event). */
  private announcedOut = false;
  private replicas = 1;
  /** This replica's place among the replicas alive (their ids in order): which of a node's slots are its own while Redis is out. */
  private rank = 0;
  private tick: NodeJS.Timeout | undefined;
  private rejoinTick: NodeJS.Timeout | undefined;
  private rejoining = false;
  private closed = false;
  private jobs: JobLeases | undefined;

  constructor(
    private readonly cfg: RedisStateConfig,
    private readonly deps: RedisStateDeps,
  ) {
    this.replicaId = cfg.replicaId || `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.channel = `${cfg.keyPrefix}slots-freed`;
    ({ client: this.client, sub: this.sub } = redisConnections(cfg));
    this.client.on('close', () => this.failed(new Error('connection closed')));
    // Back: rejoin at once rather than at the next tick of the rejoin timer.
    this.client.on('ready', () => {
      if (!this.shared && !this.closed) void this.rejoin().catch((e: unknown) => this.failed(e));
    });
    this.scripts = new ScriptRunner(this.client);
    this.learnedSync = new LearnedSync(this.client, cfg.keyPrefix);
    this.holders = new HolderSync(this.scripts, cfg.keyPrefix, this.replicaId, this.channel, deps.post, deps.now ?? Date.now, deps.metrics);
    this.handoff = new HandoffSync(this.scripts, cfg.keyPrefix, this.replicaId, cfg.leaseTtlMs, deps.now ?? Date.now);
    this.rates = new RateSync(this.scripts, cfg.keyPrefix, deps.limits);
    this.breakers = new BreakerSync(this.scripts, cfg.keyPrefix, this.replicaId, deps.post);
    this.admin = new AdminSync(this.client, this.scripts, cfg.keyPrefix, this.replicaId, (c) => deps.onAdmin?.(c));
    for (const id of deps.nodeIds) this.nodeSet(id);
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.breakers.channel) return this.breakers.onMessage(message);
      if (channel === this.admin.channel) return this.admin.onMessage(message);
      if (channel === this.handoff.channel) return this.granted(message);
      if (channel !== this.channel || this.holders.onMessage(message)) return;
      const at = message.lastIndexOf(' ');
      const held = Number(message.slice(at + 1));
      if (at > 0 && Number.isFinite(held)) this.deps.post({ type: 'slot-leases-counted', nodeId: message.slice(0, at), held });
    });
  }

  /**
   * Connects (within `connectTimeoutMs`) and joins; a Redis out at start leaves the replica on its
   * local share (of a pool it believes it has alone) until it can join.
   */
  async start(): Promise<void> {
    void this.sub.connect().catch(() => undefined);
    void this.sub.subscribe(...this.channels()).catch(() => undefined);
    try {
      await this.client.connect();
      await this.rejoin();
    } catch (e) {
      this.fallBack(message(e));
    }
    this.tick = setInterval(() => void this.round(), Math.max(100, Math.floor(this.cfg.leaseTtlMs / 3)));
    this.tick.unref();
    this.rejoinTick = setInterval(() => {
      if (!this.shared) void this.rejoin().catch((e: unknown) => this.failed(e));
    }, REJOIN_MS);
    this.rejoinTick.unref();
  }

  status(): SharedStateStatus {
    return { backend: 'redis', shared: this.shared, replicaId: this.replicaId, replicas: this.replicas, since: this.since, error: this.shared ? undefined : this.error };
  }

  acquire(nodeId: string, lease: number, max: number, want?: Contender): void {
    const member = this.member(lease);
    const started = process.hrtime.bigint();
    // The node's rate (read at each ask, so a reload applies) is taken in the same script as the slot.
    const rate = this.rates.nodeBucket(nodeId);
    const h = this.handoff.acquireArgs(nodeId, want);
    this.scripts
      .run(ACQUIRE, [this.key(nodeId), rate.key, ...h.keys], [member, max, this.cfg.leaseTtlMs, this.channel, nodeId, ...rate.args, ...h.args])
      .then((r) => {
        const [granted, held, swept, rateWait] = r as [number, number, number, number];
        this.deps.metrics?.recordAcquire(Number(process.hrtime.bigint() - started) / 1e9);
        this.deps.metrics?.recordReclaimed(swept);
        if (granted === 1) this.nodeSet(nodeId).add(member);
        if (rateWait > 0) this.deps.metrics?.recordNodeRateRefused(nodeId);
        this.deps.post({ type: 'slot-lease-answered', nodeId, lease, granted: granted === 1, held, rateWaitMs: rateWait > 0 ? rateWait : undefined });
      })
      .catch((e: unknown) => {
        // The script may have run, its answer lost: give the lease back, or it would hold a slot
        // until its TTL (not renewed: this replica never learnt it held it).
        this.holders.release(nodeId, member, this.key(nodeId)).catch(() => undefined);
        this.failed(e);
        this.deps.post({ type: 'slot-lease-answered', nodeId, lease, granted: false });
      });
  }

  release(nodeId: string, lease: number, max?: number): void {
    const member = this.member(lease);
    this.nodeSet(nodeId).delete(member);
    if (!this.shared) {
      // Out of Redis it is not renewed, so Redis drops it (and its holder) at its TTL. But a replica
      // rejoining has written its leases back already: one ended meanwhile would be counted by every
      // replica for a whole TTL, so it goes now (no handoff: this replica is not sharing yet).
      if (this.client.status === 'ready') return void this.holders.release(nodeId, member, this.key(nodeId)).catch(() => undefined);
      return this.holders.forget(member);
    }
    const handoff = this.handoff.releaseArgs(nodeId, max, this.rates.nodeBucket(nodeId));
    this.holders.release(nodeId, member, this.key(nodeId), handoff).catch((e: unknown) => this.failed(e));
  }

  contend(wants: ReadonlyMap<string, Contender> | null): void {
    if (this.shared) this.handoff.contend(wants)?.catch((e: unknown) => this.failed(e));
  }

  /** A grant of a freed slot (`handoff.ts`): this replica's lease now, renewed with the others, and a spare one for the scheduler. */
  private granted(message: string): void {
    const g: Grant | undefined = this.handoff.parse(message);
    if (!g || g.replica !== this.replicaId) return;
    this.nodeSet(g.nodeId).add(g.member);
    if (this.closed) this.release(g.nodeId, g.lease);
    else this.deps.post({ type: 'slot-lease-answered', nodeId: g.nodeId, lease: g.lease, granted: true, held: g.held, handed: true });
  }

  announceHolder(nodeId: string, lease: number, holder: RemoteHolder): void {
    this.holders.bind(nodeId, this.member(lease), holder, this.key(nodeId), this.cfg.leaseTtlMs, this.shared)?.catch((e: unknown) => this.failed(e));
  }

  checkLimits(requestId: number, clientKey: string | undefined): boolean {
    const verdict = this.rates.check(clientKey);
    if (!verdict) return false;
    verdict
      .then((v) => this.deps.post(v.ok ? { type: 'rate-checked', requestId } : { type: 'rate-checked', requestId, refused: { limit: v.limit, retryAfterMs: v.retryAfterMs } }))
      .catch((e: unknown) => {
        this.failed(e);
        this.deps.post({ type: 'rate-checked', requestId, unanswered: true });
      });
    return true;
  }

  /** Keeps and announces an admin change made on this replica (lost for the others if Redis is out). */
  announceAdmin(change: AdminChange): void {
    if (this.shared) this.admin.announce(change).catch((e: unknown) => this.failed(e));
  }

  announceBreaker(nodeId: string, state: 'open' | 'closed'): void {
    if (this.shared) this.breakers.announce(nodeId, state).catch((e: unknown) => this.failed(e));
  }

  claimTrials(nodeId: string, ttlMs: number): void {
    this.breakers
      .claim(nodeId, ttlMs)
      .then((granted) => this.deps.post({ type: 'trial-claim-answered', nodeId, granted }))
      .catch((e: unknown) => {
        this.failed(e);
        this.deps.post({ type: 'trial-claim-answered', nodeId, granted: false });
      });
  }

  /** The leases batch jobs and workflow runs are owned through, over this backend's connections (`job-leases.ts`); made on first use. */
  jobLeases(): JobLeases {
    return (this.jobs ??= new JobLeases(this.client, this.sub, this.scripts, this.cfg.keyPrefix, this.replicaId, this.cfg.leaseTtlMs));
  }

  holdLocally(nodeId: string, lease: number): void {
    this.nodeSet(nodeId).add(this.member(lease));
  }

  /** Gives back every lease still held, leaves the replicas' set, and closes both connections. */
  async close(): Promise<void> {
    // The gateway's jobs stopping with it give their leases back first (their last writes need Redis).
    await this.jobs?.close(Math.min(5_000, this.cfg.leaseTtlMs));
    this.closed = true;
    clearInterval(this.tick);
    clearInterval(this.rejoinTick);
    if (this.shared) {
      const gone: Promise<unknown>[] = [];
      for (const [nodeId, members] of this.held) {
        for (const m of members) gone.push(this.holders.release(nodeId, m, this.key(nodeId)));
      }
      gone.push(this.client.zrem(`${this.cfg.keyPrefix}replicas`, this.replicaId));
      await Promise.allSettled(gone);
    }
    this.held.clear();
    for (const c of [this.client, this.sub]) await c.quit().catch(() => c.disconnect());
  }

  /** A renewal round (every third of the TTL) while shared; out of Redis, the rejoin timer tries instead. */
  private async round(): Promise<void> {
    if (this.closed || !this.shared) return;
    try {
      const { counts, alive } = await this.renewAll();
      this.seen(alive);
      for (const [nodeId, held] of counts) this.deps.post({ type: 'slot-leases-counted', nodeId, held });
      this.holders.postAll();
      this.deps.post({ type: 'estimates-shared', learned: await this.learnedSync.exchange(this.deps.learned?.()) });
      if (await keepListening(this.client, this.sub, this.channels())) this.log(`replica ${this.replicaId} subscribed again: its subscriber had lost its channels`);
    } catch (e) {
      this.failed(e);
    }
  }

  /** Writes every lease held back into Redis, then rejoins: the mode event first, each node's count after it. */
  private async rejoin(): Promise<void> {
    if (this.rejoining || this.closed || this.client.status !== 'ready') return;
    this.rejoining = true;
    try {
      // The replicas known while shared: a rejoin's counts are not trusted until it is done (a
      // restarted Redis counts only those back yet), so a try that fails keeps waiting for them all.
      const first = await this.renewAll();
      let { counts, alive } = first;
      if (this.announcedOut) {
        const settled = await this.settle(this.replicas, first.now);
        if (!settled) return;
        ({ counts, alive } = settled);
      }
      this.seen(alive);
      await keepListening(this.client, this.sub, this.channels()); // to hear the others' releases once sharing
      if (!this.caughtUp) {
        await this.admin.catchUp();
        this.deps.post({ type: 'estimates-shared', learned: await this.learnedSync.read() });
        this.caughtUp = true;
      }
      if (this.closed) return;
      const wasOut = this.announcedOut;
      this.shared = true;
      this.announcedOut = false;
      this.since = Date.now();
      this.error = undefined;
      this.deps.metrics?.setFallback(false);
      this.deps.post({ type: 'shared-state-changed', shared: true, replicas: this.replicas, rank: this.rank });
      for (const [nodeId, held] of counts) this.deps.post({ type: 'slot-leases-counted', nodeId, held });
      this.holders.postAll();
      if (wasOut) this.log(`redis ${redactCredentials(this.cfg.url)} is back: replica ${this.replicaId} shares the pool's slots again`);
    } finally {
      this.rejoining = false;
    }
  }

  /**
   * Back from an outage, a restarted Redis holds none of the other replicas' leases until each
   * rejoins too, and the requests they took on their local shares meanwhile are in no count: the
   * first replica back would hand out slots those requests hold. So this one stays on its local
   * share until every replica it knew before (`known`) has written its leases back (its heartbeat,
   * sent after its renewals, is newer than `back`, this replica's return on Redis's clock), or until
   * a lease TTL has passed (a replica silent that long is gone, and its leases with it). The counts
   * then, or undefined when Redis went again or the backend closed.
   */
  private async settle(known: number, back: number): Promise<{ counts: Map<string, number>; alive: string[] } | undefined> {
    const until = Date.now() + this.cfg.leaseTtlMs;
    for (;;) {
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      if (this.closed || this.client.status !== 'ready') return undefined;
      const r = await this.renewAll(back);
      if (r.fresh >= known || Date.now() >= until) return r;
    }
  }

  /** The replicas alive at a heartbeat this replica trusts (a renewal round, or a rejoin done). */
  private seen(alive: readonly string[]): void {
    this.replicas = Math.max(1, alive.length);
    this.rank = Math.max(0, [...alive].sort().indexOf(this.replicaId));
    this.deps.metrics?.setReplicas(this.replicas);
  }

  /**
   * Every node's renewal and sweep, then the heartbeat (after them on the same connection, so a
   * replica that sees this heartbeat sees these leases): each node's lease count, the replicas
   * alive, Redis's time, and how many replicas have sent a heartbeat since `since` (Redis ms), if given.
   */
  private async renewAll(since?: number): Promise<{ counts: Map<string, number>; alive: string[]; now: number; fresh: number }> {
    const ttl = this.cfg.leaseTtlMs;
    const nodes = [...this.held.keys()];
    const renewed = nodes.map((id) => this.scripts.run(RENEW, [this.key(id)], [ttl, this.channel, id, ...this.held.get(id)!]));
    const heartbeat = this.scripts.run(HEARTBEAT, [`${this.cfg.keyPrefix}replicas`], since === undefined ? [this.replicaId, ttl] : [this.replicaId, ttl, since]);
    // Sent after the renewals on the same connection, so it sees their sweeps.
    const [answers] = await Promise.all([Promise.all([...renewed, heartbeat]), this.holders.reconcile(nodes, (id) => this.key(id), ttl)]);
    const [alive, now, fresh] = answers[nodes.length] as [string[], number, number];
    const counts = new Map<string, number>();
    nodes.forEach((id, i) => {
      const [held, swept] = answers[i] as [number, number];
      this.deps.metrics?.recordReclaimed(swept);
      counts.set(id, held);
    });
    return { counts, alive, now: Number(now), fresh: Number(fresh) };
  }

  /**
   * A command failed. A timeout on a live connection is checked before it counts: this process's
   * own event loop may have been busy past the timeout (a GC pause, a burst of work) while Redis had
   * answered long before, so a PING, sent now, decides. Anything else means Redis is out.
   */
  private failed(e: unknown): void {
    if (this.closed) return;
    this.deps.metrics?.recordError();
    const reason = message(e);
    if (!reason.includes('timed out') || this.client.status !== 'ready' || this.checking) return this.fallBack(reason);
    this.checking = true;
    this.client
      .ping()
      .catch(() => this.fallBack(reason))
      .finally(() => (this.checking = false));
  }

  /** Redis is out or slow: the scheduler cuts every node to this replica's share (logged once an outage). */
  private fallBack(reason: string): void {
    if (this.closed || this.announcedOut) return;
    this.shared = false;
    this.announcedOut = true;
    this.handoff.forget();
    this.since = Date.now();
    this.error = reason;
    this.deps.metrics?.setFallback(true);
    this.deps.post({ type: 'shared-state-changed', shared: false, replicas: this.replicas, rank: this.rank });
    this.log(
      `redis ${redactCredentials(this.cfg.url)} out (${reason}): replica ${this.replicaId} works on its local share of each node's slots (place ${this.rank + 1} of ${this.replicas})`,
    );
  }

  private log(msg: string): void {
    (this.deps.log ?? ((m: string) => process.emitWarning(m, { code: 'OLLAMA_RING_REDIS' })))(msg);
  }

  /** Every channel this replica listens on, its own grant channel first (`keepListening`). */
  private channels(): [string, ...string[]] {
    return [this.handoff.channel, this.channel, this.breakers.channel, this.admin.channel];
  }

  private key(nodeId: string): string {
    return `${this.cfg.keyPrefix}slots:${nodeId}`;
  }

  private member(lease: number): string {
    return `${this.replicaId}#${lease}`;
  }

  private nodeSet(nodeId: string): Set<string> {
    const s = this.held.get(nodeId) ?? new Set<string>();
    this.held.set(nodeId, s);
    return s;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
