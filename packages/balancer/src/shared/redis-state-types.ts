import type { ReplicaMetrics } from '../metrics-replicas';
import type { SchedulerEvent } from '../scheduler/scheduler-events';
import type { RateLimitSettings } from '../limits/rate-limiter';
import type { AdminChange } from '../scheduler/control-plane';
import type { LearnedFigures } from '../scheduler/estimates';

/** What `/health`, `/ready` and `PipelineFactory.getSharedState()` say of the shared state. */
export interface SharedStateStatus {
  readonly backend: 'memory' | 'redis';
  /** True while the replicas share the pool's state (always, for `memory`); false: Redis is out and this replica works on its local share. */
  readonly shared: boolean;
  /** This replica's name in Redis (`redis` only). */
  readonly replicaId?: string;
  /** Replicas of this pool alive at the last heartbeat, this one included (`redis` only). */
  readonly replicas?: number;
  /** Epoch ms since when `shared` has held. */
  readonly since: number;
  /** Why Redis counts as out (while `shared` is false). */
  readonly error?: string;
}

/** What the backend is built with besides its config. */
export interface RedisStateDeps {
  /** Where its answers go: the CONTROL ring's event inlet. */
  readonly post: (evt: SchedulerEvent) => void;
  /** The pool's node ids at start (their leases are renewed and swept from the first round). */
  readonly nodeIds: readonly string[];
  readonly metrics?: ReplicaMetrics;
  /** The rate limits in force (read at each check, so a reload applies). */
  readonly limits: () => RateLimitSettings;
  /** What this replica has learned of the nodes (written each renewal round, for replicas yet to start). */
  readonly learned?: () => LearnedFigures;
  /** Applies another replica's admin change here (through the control plane, marked as a peer's). */
  readonly onAdmin?: (change: AdminChange) => void;
  /** The scheduler's clock (default wall time): holders' starts are converted to and from it. */
  readonly now?: () => number;
  /** Told once when Redis goes out and once when it is back (default: a process warning). */
  readonly log?: (message: string) => void;
}
