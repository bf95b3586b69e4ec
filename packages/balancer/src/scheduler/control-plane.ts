import type { BalancerConfig } from '../config/types';
import type { BalancerError } from '../errors';
import type { NodeSpec } from '../nodes/node';
import type { NodeSnapshot } from '../nodes/node-snapshot';
import type { Strategy } from '../strategies/strategy';
import type { PostEvent } from './pool-state';
import type { CommandReplies, HealthChecked, ModelsDiscovered, NodeAction, ResourcesScraped, SchedulerEvent } from './scheduler-events';

type Pending = { resolve(value: unknown): void; reject(error: unknown): void };

/** An admin change that replicas share (`state.backend: redis`): a node enabled, disabled or drained, or the pool's strategy set. */
export type AdminChange = { readonly kind: 'node'; readonly nodeId: string; readonly action: NodeAction } | { readonly kind: 'strategy'; readonly name: string };

/** Distributes `Omit` over a union, so each member keeps its own fields. */
type WithoutCommand<E> = E extends { command: number } ? Omit<E, 'command'> : never;

/**
 * How everything outside the scheduler changes the pool: each method posts one event (data) to the
 * scheduler, which applies it in order with every other, and the returned promise settles with
 * the scheduler's answer once it has been applied. Results of probes (health, discovery) are
 * posted here too, without an answer.
 *
 * @example
 * await control.disableNode('gpu-2');
 * await control.setStrategy('least-in-flight');
 */
export class ControlPlane implements CommandReplies {
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  private closed: Error | undefined;
  /** Strategy objects handed in by callers, by name (the scheduler's events carry names only). */
  private readonly custom = new Map<string, Strategy>();

  /**
   * Told of every node action and strategy change applied through this control plane, except those
   * that came from another replica (`fromPeer`): the Redis backend announces them to the others.
   */
  onAdminChange: ((change: AdminChange) => void) | undefined;

  constructor(private readonly post: PostEvent) {}

  addNode(spec: NodeSpec): Promise<NodeSnapshot> {
    return this.command({ type: 'node-added', spec });
  }

  /** Resolves once the node is marked removed; it goes when its in-flight requests finish. */
  removeNode(nodeId: string): Promise<void> {
    return this.command({ type: 'node-removed', nodeId });
  }

  nodeAction(nodeId: string, action: NodeAction, opts: { fromPeer?: boolean } = {}): Promise<NodeSnapshot> {
    return this.shared(this.command({ type: 'node-commanded', nodeId, action }), opts, { kind: 'node', nodeId, action });
  }

  /**
   * Sets the pool's strategy by name, or to a strategy object of the caller's (registered under its
   * `name`, which per-request hints can then name too). Resolves with the strategy's name.
   */
  setStrategy(strategy: string | Strategy, opts: { fromPeer?: boolean } = {}): Promise<string> {
    const name = typeof strategy === 'string' ? strategy : strategy.name;
    if (typeof strategy !== 'string') this.custom.set(name, strategy);
    return this.shared(this.command({ type: 'strategy-set', name }), opts, { kind: 'strategy', name });
  }

  /** Once applied here, a change made on this replica is handed to {@link onAdminChange}. */
  private shared<T>(applied: Promise<T>, opts: { fromPeer?: boolean }, change: AdminChange): Promise<T> {
    const tell = this.onAdminChange;
    if (tell && !opts.fromPeer)
      void applied.then(
        () => tell(change),
        () => undefined,
      );
    return applied;
  }

  /** Applies a config (its `nodes` are the file's); resolves with the effective config, run-time nodes included. */
  reload(config: BalancerConfig): Promise<BalancerConfig> {
    return this.command({ type: 'config-reloaded', config });
  }

  /** Resolves once every event posted before it has been applied. */
  barrier(): Promise<void> {
    return this.command({ type: 'barrier' });
  }

  /** Stops binding and retries and ends every waiting request with `error`; resolves once applied. */
  shutdown(error: BalancerError): Promise<void> {
    return this.command({ type: 'shutdown-began', error });
  }

  healthChecked(r: Omit<HealthChecked, 'type'>): void {
    if (!this.closed) this.post({ type: 'health-checked', ...r });
  }

  modelsDiscovered(r: Omit<ModelsDiscovered, 'type'>): void {
    if (!this.closed) this.post({ type: 'models-discovered', ...r });
  }

  resourcesScraped(r: Omit<ResourcesScraped, 'type'>): void {
    if (!this.closed) this.post({ type: 'resources-scraped', ...r });
  }

  /**
   * The scheduler has stopped for good (the engine is shut down): commands awaiting an answer, and
   * every later one, reject with `error`; probe results are dropped.
   */
  close(error: Error): void {
    this.closed = error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  /** A strategy object set through {@link setStrategy}, by name. */
  customStrategy(name: string): Strategy | undefined {
    return this.custom.get(name);
  }

  resolve(command: number, value: unknown): void {
    this.take(command)?.resolve(value);
  }

  reject(command: number, error: unknown): void {
    this.take(command)?.reject(error);
  }

  private take(command: number): Pending | undefined {
    const p = this.pending.get(command);
    this.pending.delete(command);
    return p;
  }

  private command<T>(evt: WithoutCommand<SchedulerEvent>): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const command = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(command, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ ...evt, command } as SchedulerEvent);
    });
  }
}
