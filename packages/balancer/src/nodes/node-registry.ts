import type { BreakerState } from './circuit-breaker';
import type { Scheduler } from '../scheduler/scheduler';
import { type NodeCommand, addNode, applyNodeCommand, removeNode } from './node-events';
import type { HealthState, NodeSpec, PoolNode } from './node';

/** A read-only copy of one node's state. */
export interface NodeSnapshot {
  id: string;
  url: string;
  health: HealthState;
  enabled: boolean;
  adminDisabled: boolean;
  draining: boolean;
  inFlight: number;
  maxConcurrent: number;
  weight: number;
  priority: number;
  tags: string[];
  /** Models configured or discovered there (normalised). */
  models: string[];
  /** Models resident there, with the options signature when known and the expiry (epoch ms). */
  loadedModels: { model: string; optionsSignature: string | null; expiresAt: number }[];
  breakerState: BreakerState;
  totalRequests: number;
  failedRequests: number;
  lastError: string;
}

export function snapshotNode(n: PoolNode): NodeSnapshot {
  return {
    id: n.id,
    url: n.url,
    health: n.health,
    enabled: n.spec.enabled,
    adminDisabled: n.adminDisabled,
    draining: n.draining,
    inFlight: n.inFlight,
    maxConcurrent: n.maxConcurrent,
    weight: n.spec.weight,
    priority: n.spec.priority,
    tags: [...n.spec.tags],
    models: [...new Set([...n.spec.models, ...(n.discoveredModels ?? [])])].sort(),
    loadedModels: [...n.loaded.values()].map((l) => ({ model: l.model, optionsSignature: l.optionsSignature, expiresAt: l.expiresAt })),
    breakerState: n.breaker.state,
    totalRequests: n.totalRequests,
    failedRequests: n.failedRequests,
    lastError: n.lastError,
  };
}

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
   * `onMembershipChange` hears of every node added or removed here, with the resulting node list,
   * so supervision (health checks, discovery) follows the admin API.
   */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly onMembershipChange?: (specs: NodeSpec[]) => void,
  ) {}

  getAllNodes(): NodeSnapshot[] {
    return [...this.scheduler.nodes.values()].filter((n) => !n.removed).map(snapshotNode);
  }

  getNode(id: string): NodeSnapshot | undefined {
    const n = this.scheduler.nodes.get(id);
    return n && !n.removed ? snapshotNode(n) : undefined;
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
    return this.apply('add-node', (s) => snapshotNode(addNode(s, spec))).then((snap) => {
      this.membershipChanged();
      return snap;
    });
  }

  /** Removes the node once its in-flight requests have finished. */
  remove(id: string): Promise<void> {
    return this.apply('remove-node', (s) => removeNode(s, id)).then(() => this.membershipChanged());
  }

  private membershipChanged(): void {
    this.onMembershipChange?.([...this.scheduler.nodes.values()].filter((n) => !n.removed).map((n) => n.spec));
  }

  private command(id: string, cmd: NodeCommand): Promise<NodeSnapshot> {
    return this.apply(`node-${cmd}`, (s) => snapshotNode(applyNodeCommand(s, id, cmd)));
  }

  private apply<T>(label: string, fn: (s: Scheduler) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.scheduler.post({
        type: 'apply',
        label,
        fn: (s) => {
          try {
            resolve(fn(s));
          } catch (e) {
            reject(e);
          }
        },
      });
    });
  }
}
