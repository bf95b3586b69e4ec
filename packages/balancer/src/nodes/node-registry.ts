import type { ControlPlane } from '../scheduler/control-plane';
import type { NodeAction } from '../scheduler/scheduler-events';
import type { NodeSpec } from './node';
import type { NodeSnapshot } from './node-snapshot';
import type { NodeAddress } from './node-tls';

export { canServe, type NodeSnapshot, snapshotNode } from './node-snapshot';

/**
 * The pool's nodes as callers see them: snapshots to read, and commands that go to the scheduler
 * as events (the scheduler is the only writer) and resolve once applied.
 *
 * @example
 * factory.getNodeRegistry().getAllNodes().map((n) => `${n.id} ${n.health} ${n.inFlight}/${n.maxConcurrent}`);
 * await factory.getNodeRegistry().disable('gpu-2');
 */
export class NodeRegistry {
  /**
   * `onMembershipChange` hears of every node added or removed here, so supervision (health checks,
   * discovery) follows the admin API. It reads the nodes' URLs from the pool itself: a snapshot's
   * URL has its password masked.
   */
  constructor(
    private readonly control: ControlPlane,
    /** Snapshots of every node, removed ones still draining included. */
    private readonly nodes: () => NodeSnapshot[],
    private readonly onMembershipChange?: () => void,
    /** How to call a node of the pool; snapshots only show a masked URL. */
    private readonly addresses?: (id: string) => NodeAddress | undefined,
  ) {}

  getAllNodes(): NodeSnapshot[] {
    return this.nodes().filter((n) => !n.removed);
  }

  getNode(id: string): NodeSnapshot | undefined {
    return this.getAllNodes().find((n) => n.id === id);
  }

  /**
   * How to call node `id` yourself: its origin, path prefix, the basic-auth header its URL's
   * credentials make, and its TLS files (the gateway's pool-wide routes use it). Undefined for a node not in the pool.
   *
   * @example const a = registry.addressOf('gpu-1'); if (a) await request(`${a.origin}${a.basePath}/api/tags`, { headers: a.headers });
   */
  addressOf(id: string): NodeAddress | undefined {
    return this.addresses?.(id);
  }

  enable(id: string): Promise<NodeSnapshot> {
    return this.command(id, 'enable');
  }

  /** Takes the node out of routing until `enable`; it stays out across health checks. */
  disable(id: string): Promise<NodeSnapshot> {
    return this.command(id, 'disable');
  }

  /** Lets the node finish what it has, and gives it nothing new. */
  drain(id: string): Promise<NodeSnapshot> {
    return this.command(id, 'drain');
  }

  add(spec: NodeSpec): Promise<NodeSnapshot> {
    return this.control.addNode(spec).then((snap) => {
      this.membershipChanged();
      return snap;
    });
  }

  /** Removes the node once its in-flight requests have finished. */
  remove(id: string): Promise<void> {
    return this.control.removeNode(id).then(() => this.membershipChanged());
  }

  private membershipChanged(): void {
    this.onMembershipChange?.();
  }

  private command(id: string, action: NodeAction): Promise<NodeSnapshot> {
    return this.control.nodeAction(id, action);
  }
}
