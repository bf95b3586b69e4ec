import type { PoolNode } from '../nodes/node';
import type { BreakerShared, TrialClaimAnswered } from './scheduler-events';

/** The Redis side of shared breakers, as the scheduler calls it (answers come back as events). */
export interface BreakerPort {
  /** Tells every other replica that a node's breaker opened here, or closed (a trial succeeded). */
  announceBreaker(nodeId: string, state: 'open' | 'closed'): void;
  /** Asks for the node's trial claim for `ttlMs`; answered by a `trial-claim-answered` event. */
  claimTrials(nodeId: string, ttlMs: number): void;
}

/** What the last pass saw of one node's breaker. */
interface Seen {
  opens: number;
  state: PoolNode['breaker']['state'];
  claiming: boolean;
}

/**
 * Node breakers shared by replicas (`state.backend: redis`). After each scheduling pass the
 * breakers that opened here are announced, and so is a breaker a trial closed here; an announcement
 * from another replica (a `breaker-shared` event) opens or closes the breaker here too, so a node
 * one replica sees fail is out of rotation on all. Half-open trials are shared: a breaker admits
 * trials only while this replica holds the node's trial claim (`CircuitBreaker.sharedTrials`),
 * asked for when it turns half-open; the others wait for the trial's verdict, announced.
 */
export class SharedBreakers {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly port: BreakerPort) {}

  /**
   * After a pass: announce what changed here, and ask for the trial claim of breakers now half-open.
   * `shared` false: Redis is out, trials are local. `claimMs`: how long a claim lasts unless its
   * trial's verdict ends it first, as long as a trial may run (a holder that died holds it that long).
   */
  endPass(nodes: Iterable<PoolNode>, shared: boolean, claimMs: number): void {
    for (const node of nodes) {
      const b = node.breaker;
      b.sharedTrials = shared;
      const s = this.of(node);
      if (!shared) {
        s.opens = b.opens;
        s.state = b.state;
        continue;
      }
      if (b.opens !== s.opens) this.port.announceBreaker(node.id, 'open');
      else if (b.state === 'closed' && s.state === 'half-open') this.port.announceBreaker(node.id, 'closed');
      s.opens = b.opens;
      s.state = b.state;
      if (b.state === 'half-open' && !b.trialsClaimed && !s.claiming) {
        s.claiming = true;
        this.port.claimTrials(node.id, claimMs);
      }
    }
  }

  /** Another replica's breaker opened or closed: so does this one (not announced again). */
  onShared(evt: BreakerShared, node: PoolNode | undefined, now: number): void {
    if (!node) return;
    if (evt.state === 'open') node.breaker.trip(now);
    else if (node.breaker.state !== 'closed') node.breaker.close();
    const s = this.of(node);
    s.opens = node.breaker.opens;
    s.state = node.breaker.state;
  }

  onClaimAnswered(evt: TrialClaimAnswered, node: PoolNode | undefined): void {
    if (!node) return;
    this.of(node).claiming = false;
    // Granted for a breaker no longer half-open (its trial's verdict came first): nothing to do.
    if (evt.granted && node.breaker.state === 'half-open') node.breaker.trialsClaimed = true;
  }

  private of(node: PoolNode): Seen {
    let s = this.seen.get(node.id);
    if (!s) {
      s = { opens: node.breaker.opens, state: node.breaker.state, claiming: false };
      this.seen.set(node.id, s);
    }
    return s;
  }
}
