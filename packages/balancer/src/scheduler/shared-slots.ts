import type { PoolNode } from '../nodes/node';
import type { Estimates } from './estimates';
import type { AdmissionLimiter, PoolState } from './pool-state';
import { RemoteHolders } from './remote-holders';
import type {
  BreakerShared,
  EstimatesShared,
  RemoteHolder,
  RemoteHoldersChanged,
  SharedStateChanged,
  SlotLeaseAnswered,
  SlotLeasesCounted,
  TrialClaimAnswered,
} from './scheduler-events';
import { type BreakerPort, SharedBreakers } from './shared-breakers';
import { slotShares } from '../shared/local-share';

/** A waiter contending for a node's next freed slot (`shared/handoff.ts`): its arrival (scheduler clock) and class. */
export interface Contender {
  readonly arrivedAt: number;
  readonly batch: boolean;
}

/** The events of the shared state, applied by {@link SharedSlotGate.apply}. */
export type SharedSlotEvent = SlotLeaseAnswered | SlotLeasesCounted | SharedStateChanged | BreakerShared | TrialClaimAnswered | EstimatesShared | RemoteHoldersChanged;

/**
 * The scheduler's way to the shared slot leases (`state.backend: redis`, `shared/redis-state.ts`).
 * Calls never wait: each answer comes back later as a scheduler event on the CONTROL ring
 * (`slot-lease-answered`, `slot-leases-counted`, `shared-state-changed`), applied in order with
 * every other event, so the scheduler stays the one writer of the pool's state.
 */
export interface SlotLeasePort extends BreakerPort {
  /**
   * Asks for one lease on `nodeId`'s slots (at most `max` held by all replicas), with a token of the
   * node's shared rate bucket (`rateLimit.perNode`) in the same step; answered by a `slot-lease-answered` event.
   * `want`: the waiter that asks, recorded as this replica's contender for the node if it is full.
   */
  acquire(nodeId: string, lease: number, max: number, want?: Contender): void;
  /**
   * Sends a request's global and per-key rate limits to Redis, answered by a `rate-checked` event;
   * false when no limit applies to it (nothing sent).
   */
  checkLimits(requestId: number, clientKey: string | undefined): boolean;
  /**
   * Gives a lease back: with the node's `max`, handed to the node's oldest contender among the
   * replicas (a `slot-lease-answered` event marked `handed` there), else announced to every replica,
   * so their waiters are offered the slot.
   */
  release(nodeId: string, lease: number, max?: number): void;
  /** After a pass: the first waiter of each full node this replica's waiters wait for; null: none waits (entries withdrawn). */
  contend(wants: ReadonlyMap<string, Contender> | null): void;
  /** A slot taken on this replica's local share while Redis is out: registered in Redis when it is back. */
  holdLocally(nodeId: string, lease: number): void;
  /** A request took the lease: what it is goes with the lease in Redis and to every replica (`remote-holders-changed` there). */
  announceHolder(nodeId: string, lease: number, holder: RemoteHolder): void;
}

/** What the gate knows of one node's leases. */
interface NodeLeases {
  /** Acquires sent and not yet answered. */
  pending: number;
  /** Leases granted and not yet taken by a request: the next pass may use them, or they go back. */
  readonly spare: number[];
  /** Leases this replica holds in Redis (requests' and spare). */
  own: number;
  /** The node's slots as last seen (a release passes it, so Redis can hand the freed slot on). */
  max?: number;
}

/**
 * Per-node concurrency slots shared by replicas, as the scheduler sees them. A request binds only
 * with a lease on its node: the binder asks {@link take} once the strategy picked a node with a free
 * local slot. Without a spare lease there, the gate asks Redis for one and the request waits; the
 * answer is an event, and the pass after it binds the waiter (late binding across replicas). A lease
 * not taken in the pass after it came is given back, so idle replicas never sit on slots.
 *
 * Slots others hold are `node.heldElsewhere`, which `freeSlots` subtracts: strategies see the whole
 * pool's load, and a node full elsewhere is not chosen. The counts are as fresh as the last answer,
 * release announcement or renewal (every third of the lease TTL); Redis alone decides.
 *
 * A node's rate (`rateLimit.perNode`) is shared too: each lease comes with a token of the node's
 * bucket in Redis, or not at all. A lease refused for the rate closes the node to this replica's
 * waiters until the bucket has a token again ({@link nodeRateOpen}), so they go to other nodes or
 * wait, and nobody asks Redis for that node meanwhile.
 *
 * When Redis is out (`shared-state-changed`, not shared), each node is cut to this replica's share
 * (`slotShares`: the replicas split each node's slots exactly), and to what the others' requests
 * known to run there leave free until they are expected to end (`RemoteHolders.outage`); every slot
 * taken then is held locally and registered in Redis on return, so nothing is counted twice or lost;
 * the local limiter's node buckets are cut to their share of the rate likewise (`localRateShare`).
 */
export class SharedSlotGate {
  private readonly byNode = new Map<string, NodeLeases>();
  /** The lease each bound request holds: (node, lease id). */
  private readonly held = new Map<number, { nodeId: string; lease: number }>();
  /** Leases asked for, by lease id: the request whose offer asked. */
  private readonly asked = new Map<number, number>();
  /**
   * Leases granted to a waiting request's ask, until its next offer: that offer binds it to the node
   * its strategy chose when it asked ({@link reservedNode}), so a strategy that moves on (round-robin)
   * cannot leave the request asking forever.
   */
  private readonly reserved = new Map<number, { nodeId: string; lease: number }>();
  /** Until when (epoch ms) Redis said a node's rate bucket has no token. */
  private readonly rateClosedUntil = new Map<string, number>();
  /** This pass's first waiter for each full node (`Contender`), sent at its end. */
  private wants = new Map<string, Contender>();
  private seq = 0;
  private shared = true;
  private replicas = 1;
  /** Out of Redis: this replica's share of each node's slots (`slotShares`, from its place among the replicas). */
  private shares = new Map<string, number>();

  private readonly breakers: SharedBreakers;
  /** What the other replicas' requests hold on each node (the wait estimates, per-model counts and residency take them in). */
  readonly remote = new RemoteHolders();

  /** `limiter`: the local limits, whose node buckets apply (at this replica's share) while Redis is out. */
  constructor(
    private readonly port: SlotLeasePort,
    private readonly limiter?: AdmissionLimiter,
  ) {
    this.breakers = new SharedBreakers(port);
  }

  /** Applies one of the shared state's events (the scheduler hands them over, in order with every other). */
  apply(evt: SharedSlotEvent, pool: Pick<PoolState, 'nodes' | 'estimates' | 'now'>): void {
    const nodes = pool.nodes;
    switch (evt.type) {
      case 'shared-state-changed':
        return this.onModeChanged(evt, nodes, pool.now(), pool.estimates);
      case 'remote-holders-changed':
        // Out of Redis, what others hold is unknown: the local share rules apply.
        if (this.shared) this.remote.apply(evt, nodes.get(evt.nodeId), pool.now(), pool.estimates);
        return;
      case 'slot-lease-answered':
        return this.onAnswered(evt, nodes.get(evt.nodeId), pool.now());
      case 'slot-leases-counted':
        return this.onCounted(evt, nodes.get(evt.nodeId));
      case 'breaker-shared':
        return this.breakers.onShared(evt, nodes.get(evt.nodeId), pool.now());
      case 'trial-claim-answered':
        return this.breakers.onClaimAnswered(evt, nodes.get(evt.nodeId));
      case 'estimates-shared':
        return pool.estimates.seed(evt.learned);
    }
  }

  /**
   * The start of a scheduling pass: out of Redis, the others' requests expected to have ended by now
   * are forgotten, and each node's cut follows (passes come at least every reoffer while any waits).
   */
  beginPass(nodes: ReadonlyMap<string, PoolNode>, now: number): void {
    if (this.shared || this.remote.size() === 0) return;
    this.remote.dropEnded(nodes, now);
    for (const node of nodes.values()) this.cutToShare(node);
  }

  /** Whether the replicas share slots now (false: each works on its local share). */
  isShared(): boolean {
    return this.shared;
  }

  /**
   * A lease on `node` for request `requestId`, if one is at hand now: a spare one (shared), or the
   * local share's (fallback; `freeSlots` has already cut the node to it). Otherwise asks for one and
   * returns false: the request waits for the answer's pass.
   */
  take(node: PoolNode, requestId: number, want?: Contender): boolean {
    const n = this.of(node.id);
    n.max = node.maxConcurrent;
    const mine = this.reserved.get(requestId);
    if (mine) {
      this.reserved.delete(requestId);
      if (mine.nodeId === node.id) {
        this.held.set(requestId, mine);
        return true;
      }
      this.of(mine.nodeId).spare.push(mine.lease);
    }
    if (!this.shared) {
      const lease = ++this.seq;
      n.own++;
      this.port.holdLocally(node.id, lease);
      this.held.set(requestId, { nodeId: node.id, lease });
      return true;
    }
    const lease = n.spare.pop();
    if (lease !== undefined) {
      this.held.set(requestId, { nodeId: node.id, lease });
      return true;
    }
    // The node's first waiter in this pass is its contender: a refused ask records it in Redis.
    const first = want !== undefined && !this.wants.has(node.id);
    if (first) this.wants.set(node.id, want);
    // No more asks than the node seems to have free slots for this replica: each waiter that chose
    // the node in this pass asks once, and a refusal tells how full it is.
    if (n.pending < Math.max(1, node.maxConcurrent - node.inFlight - node.heldElsewhere)) {
      n.pending++;
      const lease = ++this.seq;
      this.asked.set(lease, requestId);
      this.port.acquire(node.id, lease, node.maxConcurrent, first ? want : undefined);
    }
    return false;
  }

  /**
   * A waiter found these nodes full: it contends for their next freed slot (the first waiter per
   * node in a pass, in queue order; sent at the pass's end). Only while shared.
   */
  contend(nodes: readonly PoolNode[], want: Contender): void {
    if (!this.shared) return;
    for (const node of nodes) {
      this.of(node.id).max = node.maxConcurrent;
      if (!this.wants.has(node.id)) this.wants.set(node.id, want);
    }
  }

  /**
   * Whether the node's shared rate may have a token now, as far as Redis last said; always true out
   * of Redis (the local limiter's share decides then).
   */
  nodeRateOpen(nodeId: string, now: number): boolean {
    return !this.shared || !((this.rateClosedUntil.get(nodeId) ?? 0) > now);
  }

  /** Ms until the first of these nodes has a token again (0: one may have one now). */
  nodeRateWaitMs(nodes: readonly PoolNode[], now: number): number {
    let ms = Infinity;
    for (const n of nodes) ms = Math.min(ms, Math.max(0, (this.rateClosedUntil.get(n.id) ?? 0) - now));
    return ms === Infinity ? 0 : ms;
  }

  /** Sends the request's global and per-key limits to Redis (replicas share them); false: Redis is out or no limit applies, the local limits decide. */
  checkLimits(requestId: number, clientKey: string | undefined): boolean {
    return this.shared && this.port.checkLimits(requestId, clientKey);
  }

  /** The node whose lease was granted to this request's ask, if it has one waiting: its offer goes there. */
  reservedNode(requestId: number): string | undefined {
    return this.reserved.get(requestId)?.nodeId;
  }

  /**
   * The request bound with its lease: its holder is announced and kept with the lease in Redis. On
   * the local share (Redis out) the backend keeps it to write when Redis is back.
   */
  bound(requestId: number, holder: RemoteHolder): void {
    const lease = this.held.get(requestId);
    if (lease) this.port.announceHolder(lease.nodeId, lease.lease, holder);
  }

  /** The request took a lease and then could not bind after all (its node is over its rate): the lease is spare again. */
  giveBack(requestId: number): void {
    const h = this.held.get(requestId);
    if (!h) return;
    this.held.delete(requestId);
    this.of(h.nodeId).spare.push(h.lease);
  }

  /** The request's slot was freed: its lease goes back to Redis, which tells every replica. */
  released(requestId: number): void {
    const h = this.held.get(requestId);
    if (!h) return;
    this.held.delete(requestId);
    const n = this.of(h.nodeId);
    n.own--;
    this.port.release(h.nodeId, h.lease, n.max);
  }

  /**
   * The end of a scheduling pass: spare leases no waiter took go back, for other replicas' waiters
   * (handed to a node's oldest contender), breakers that changed here are announced, and this
   * replica's contention is sent (`waiting` false: no waiter is left, its entries are withdrawn).
   */
  endPass(pool: Pick<PoolState, 'nodes' | 'config'>, waiting: boolean): void {
    this.breakers.endPass(pool.nodes.values(), this.shared, Math.max(pool.config.healthCheck.circuitBreakerRecoveryMs, pool.config.timeouts.requestTimeoutMs));
    this.unreserve();
    for (const [nodeId, n] of this.byNode) {
      while (n.spare.length > 0) {
        n.own--;
        this.port.release(nodeId, n.spare.pop()!, n.max);
      }
    }
    if (this.shared) this.port.contend(waiting ? this.wants : null);
    this.wants = new Map();
  }

  onAnswered(evt: SlotLeaseAnswered, node: PoolNode | undefined, now: number): void {
    const n = this.of(evt.nodeId);
    if (evt.rateWaitMs !== undefined && this.shared) this.rateClosedUntil.set(evt.nodeId, Math.max(this.rateClosedUntil.get(evt.nodeId) ?? 0, now + evt.rateWaitMs));
    // A handed slot answered no ask of this replica's: nothing pending changes, and it is spare.
    if (!evt.handed) n.pending = Math.max(0, n.pending - 1);
    if (node) n.max = node.maxConcurrent;
    const requestId = this.asked.get(evt.lease);
    this.asked.delete(evt.lease);
    if (evt.granted) {
      n.own++;
      // Granted after Redis went out, or for a node gone: not used; it goes back (or expires).
      if (this.shared && node && !node.removed) {
        if (requestId !== undefined && !this.reserved.has(requestId)) this.reserved.set(requestId, { nodeId: evt.nodeId, lease: evt.lease });
        else n.spare.push(evt.lease);
      } else {
        n.own--;
        this.port.release(evt.nodeId, evt.lease);
      }
    }
    if (node && this.shared && evt.held !== undefined) this.count(node, evt.held);
  }

  /** A count of a node's leases from Redis (a release anywhere, a renewal round). */
  onCounted(evt: SlotLeasesCounted, node: PoolNode | undefined): void {
    if (node && this.shared) this.count(node, evt.held);
  }

  /** Redis went out or came back. */
  onModeChanged(evt: SharedStateChanged, nodes: ReadonlyMap<string, PoolNode>, now: number, est: Estimates): void {
    this.shared = evt.shared;
    this.replicas = Math.max(1, evt.replicas);
    if (this.shared) this.remote.clear(nodes);
    else {
      this.unreserve();
      this.remote.outage(nodes, now, est);
      const live = [...nodes.values()].filter((n) => !n.removed);
      this.shares = slotShares(
        live.map((n) => ({ id: n.id, slots: n.maxConcurrent })),
        this.replicas,
        evt.rank,
      );
    }
    // Out of Redis each replica keeps to its share of each node's rate; back, Redis's bucket decides.
    this.rateClosedUntil.clear();
    this.limiter?.shareNodes?.(this.shared ? 1 : this.replicas, now);
    for (const node of nodes.values()) {
      const n = this.of(node.id);
      if (this.shared) {
        // The local share holds until each node's count follows (the rejoin renews every lease in
        // Redis, then reports the counts after this event). Answers still pending were lost.
        n.pending = 0;
        this.asked.clear();
        continue;
      }
      // Spare leases are useless now; pending answers will be refused or given back.
      while (n.spare.length > 0) {
        n.own--;
        this.port.release(node.id, n.spare.pop()!);
      }
      this.cutToShare(node);
    }
  }

  /**
   * Out of Redis: the node's slots beyond this replica's share are the others', and so are at least
   * those their requests known to run there still hold (they may have run beyond their own shares).
   */
  private cutToShare(node: PoolNode): void {
    node.heldElsewhere = Math.max(node.maxConcurrent - (this.shares.get(node.id) ?? 0), node.remoteHolders);
  }

  /** Reservations not used in the pass after their grant become spare (and go back with the spares). */
  private unreserve(): void {
    for (const r of this.reserved.values()) this.of(r.nodeId).spare.push(r.lease);
    this.reserved.clear();
  }

  private count(node: PoolNode, held: number): void {
    // Never fewer than the other replicas' requests known to hold slots there: a count read before
    // their announcements (a renewal round's answer) is older than they are.
    node.heldElsewhere = Math.max(0, held - this.of(node.id).own, node.remoteHolders);
  }

  private of(nodeId: string): NodeLeases {
    let n = this.byNode.get(nodeId);
    if (!n) {
      n = { pending: 0, spare: [], own: 0 };
      this.byNode.set(nodeId, n);
    }
    return n;
  }

  /** Leases held by requests now, and spare ones (for views). */
  counts(): { held: number; spare: number } {
    let spare = 0;
    for (const n of this.byNode.values()) spare += n.spare.length;
    return { held: this.held.size, spare: spare + this.reserved.size };
  }
}
