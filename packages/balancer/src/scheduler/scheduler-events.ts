import type { BalancerConfig } from '../config/types';
import type { BalancerError } from '../errors';
import type { LoadedModel, NodeSpec } from '../nodes/node';
import type { ResourceSignals } from '../nodes/resource-signals';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { RequestFacts, RequestRejection } from '../stages/request-facts';
import type { LearnedFigures, SlotWork } from './estimates';

/**
 * Every input of the scheduler, as data: one closed union, each member handled by one named
 * function (`scheduler/handlers.ts`). Nothing else changes pool state, so a sequence of these,
 * with the time each was applied, is the whole story of a run: it can be logged, asserted on and
 * replayed into a fresh scheduler for the same decisions.
 *
 * Events are small. What is large or lives long travels beside them, keyed by id, as it did
 * before: a request's body in the byte arena and its context (sink, hints) in the request table;
 * a command's promise in the control plane's reply table, under `command`.
 */
export type SchedulerEvent =
  | RequestValidated
  | LeaseRequested
  | LeaseReleased
  | LeaseExpired
  | RequestCompleted
  | RequestAborted
  | RetryDue
  | HealthChecked
  | ModelsDiscovered
  | ResourcesScraped
  | NodeAdded
  | NodeRemoved
  | NodeCommanded
  | StrategySet
  | ConfigReloaded
  | TimerFired
  | Barrier
  | ShutdownBegan
  | SlotLeaseAnswered
  | SlotLeasesCounted
  | SharedStateChanged
  | RateChecked
  | BreakerShared
  | TrialClaimAnswered
  | EstimatesShared
  | RemoteHoldersChanged;

export type SchedulerEventType = SchedulerEvent['type'];

/** Validation's verdict on a request now in the request table: admit it, or reject it. */
export interface RequestValidated {
  readonly type: 'request-validated';
  readonly requestId: number;
  readonly verdict: RequestFacts | RequestRejection;
}

/**
 * A lease (`pipeline.select`): a request the application sends to the node itself. It waits in
 * the queue and is bound like any request (its context is in the request table already); bound, it
 * hands the node to the application instead of dispatching. `verdict` is what validation makes of
 * the model alone.
 */
export interface LeaseRequested {
  readonly type: 'lease-requested';
  readonly requestId: number;
  readonly verdict: RequestFacts;
}

/**
 * The application released its lease: `outcome` is what its own call to the node came to (`ok`
 * with its timings, a failure, or `aborted` when the lease was cancelled). Frees the slot, exactly
 * once per lease, as a completion does.
 */
export interface LeaseReleased {
  readonly type: 'lease-released';
  readonly requestId: number;
  readonly nodeId: string;
  readonly outcome: DispatchOutcome;
}

/** A lease was held past its TTL without a release: its slot is taken back (counted), judged neither success nor failure. */
export interface LeaseExpired {
  readonly type: 'lease-expired';
  readonly requestId: number;
  readonly nodeId: string;
  /** The TTL it was held for. */
  readonly ttlMs: number;
}

/** An upstream exchange ended, however it ended; frees its slot. Exactly one per dispatch. */
export interface RequestCompleted {
  readonly type: 'request-completed';
  readonly requestId: number;
  readonly nodeId: string;
  readonly outcome: DispatchOutcome;
}

/** The client left, a caller cancelled, or a shutdown grace period ended. */
export interface RequestAborted {
  readonly type: 'request-aborted';
  readonly requestId: number;
  readonly error: BalancerError;
}

/** A request's retry backoff is over: it goes back to the queue. */
export interface RetryDue {
  readonly type: 'retry-due';
  readonly requestId: number;
}

/** One health check's result. `at` is when it was taken (epoch ms). */
export interface HealthChecked {
  readonly type: 'health-checked';
  readonly nodeId: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly at: number;
  /** The probe of a node suspected of hanging (a missed deadline), with the short failover deadline. */
  readonly suspect?: boolean;
}

/**
 * What a node has: its models (`/api/tags`) and, when read, what it has loaded (`/api/ps`, read at
 * `probedAt`). From the discovery rounds, and from the gateway after it pulled or created models.
 */
export interface ModelsDiscovered {
  readonly type: 'models-discovered';
  readonly nodeId: string;
  readonly models?: readonly string[];
  readonly loaded?: readonly LoadedModel[];
  readonly probedAt?: number;
  readonly at: number;
}

/**
 * One scrape of a node's exporter (`metricsUrl`), taken at `at` (epoch ms): its signals, or none
 * after a failed or empty scrape, which leaves the node without signals (scored neutrally) until
 * the next good one. Never changes the node's health.
 */
export interface ResourcesScraped {
  readonly type: 'resources-scraped';
  readonly nodeId: string;
  readonly signals?: ResourceSignals;
  readonly at: number;
}

/** Commands carry the id under which the control plane waits for their reply. */
interface Command {
  readonly command: number;
}

export interface NodeAdded extends Command {
  readonly type: 'node-added';
  readonly spec: NodeSpec;
}

/** The node goes once its in-flight requests finish. */
export interface NodeRemoved extends Command {
  readonly type: 'node-removed';
  readonly nodeId: string;
}

export type NodeAction = 'enable' | 'disable' | 'drain';

export interface NodeCommanded extends Command {
  readonly type: 'node-commanded';
  readonly nodeId: string;
  readonly action: NodeAction;
}

/** The pool's strategy, by name (built-in, or registered with the control plane). */
export interface StrategySet extends Command {
  readonly type: 'strategy-set';
  readonly name: string;
}

/**
 * A new config (file edit, admin reload). `config.nodes` is the file's list: nodes added at run
 * time that the file does not define are kept (the reply is the effective config).
 */
export interface ConfigReloaded extends Command {
  readonly type: 'config-reloaded';
  readonly config: BalancerConfig;
}

/**
 * One of the scheduler's own timers: the earliest queue deadline, the periodic re-offer, or the
 * sweep for non-streamed answers past their expected time.
 */
export interface TimerFired {
  readonly type: 'timer-fired';
  readonly timer: 'queue-deadline' | 'reoffer' | 'overdue';
}

/** Changes nothing; its reply says that every event posted before it has been applied. */
export interface Barrier extends Command {
  readonly type: 'barrier';
}

/**
 * The balancer is stopping: nothing binds or retries any more, and every waiting request ends with
 * `error`. Requests in flight are left to finish (the factory aborts them after its grace period).
 */
export interface ShutdownBegan extends Command {
  readonly type: 'shutdown-began';
  readonly error: BalancerError;
}

/** Where the scheduler answers commands (the control plane). */
export interface CommandReplies {
  resolve(command: number, value: unknown): void;
  reject(command: number, error: unknown): void;
}

/**
 * Redis answered a slot lease asked for (`state.backend: redis`): granted or not, and how many
 * leases the node's slots hold in all after it (absent when the ask failed on a Redis error).
 */
export interface SlotLeaseAnswered {
  readonly type: 'slot-lease-answered';
  readonly nodeId: string;
  readonly lease: number;
  readonly granted: boolean;
  readonly held?: number;
  /** Refused for the node's shared rate (`rateLimit.perNode`), not its slots: ms until it has a token. */
  readonly rateWaitMs?: number;
  /** Not an answer: a release elsewhere handed the node's freed slot to this replica, its oldest contender (`shared/handoff.ts`). */
  readonly handed?: boolean;
}

/** How many leases a node's slots hold in all replicas: a release anywhere (pub/sub), or a renewal round. */
export interface SlotLeasesCounted {
  readonly type: 'slot-leases-counted';
  readonly nodeId: string;
  readonly held: number;
}

/**
 * Redis went out (`shared` false: each replica works on its local share of each node's slots) or
 * came back (every lease held is in Redis again). `replicas`: the replicas last seen alive, and
 * `rank` this one's place among them (their ids in order, from 0), which decides its local share.
 */
export interface SharedStateChanged {
  readonly type: 'shared-state-changed';
  readonly shared: boolean;
  readonly replicas: number;
  readonly rank: number;
}

/**
 * Redis's answer on a request's global and per-key limits, shared by the replicas: `refused` with
 * the limit and when to try again, admitted, or `unanswered` (Redis failed: the local limits decide).
 */
export interface RateChecked {
  readonly type: 'rate-checked';
  readonly requestId: number;
  readonly refused?: { readonly limit: 'global' | 'client'; readonly retryAfterMs: number };
  readonly unanswered?: boolean;
}

/** Another replica's breaker for a node opened, or closed after a trial succeeded there. */
export interface BreakerShared {
  readonly type: 'breaker-shared';
  readonly nodeId: string;
  readonly state: 'open' | 'closed';
}

/** Redis's answer on a node's half-open trial claim: granted, this replica sends the trials. */
export interface TrialClaimAnswered {
  readonly type: 'trial-claim-answered';
  readonly nodeId: string;
  readonly granted: boolean;
}

/** What the other replicas learned of the nodes (a replica joining): fills in what this one has not learned yet. */
export interface EstimatesShared {
  readonly type: 'estimates-shared';
  readonly learned: LearnedFigures;
}

/**
 * What another replica's request holding a slot is, as its lease carries it in Redis and in the
 * announcement of its binding: its model (normalised), options signature, start, its work, and
 * whether its replica bound it cold (sent a load).
 */
export interface RemoteHolder {
  readonly model: string;
  readonly optionsSignature: string;
  /**
   * When it bound, on the scheduler's clock (epoch ms unless a clock was injected). The wire
   * carries wall time; the Redis side (`shared/holder-sync.ts`) converts both ways, so events stay
   * data on the scheduler's clock, as every other event.
   */
  readonly startedAt: number;
  readonly work: SlotWork;
  readonly cold: boolean;
}

/**
 * What other replicas' requests hold on a node's slots (`state.backend: redis`): a lease taken by a
 * request (`bound`, from its announcement), a lease given back (`gone`), or every holder Redis has
 * for the node at a renewal round (`all`, which replaces what was known: a missed message or a dead
 * replica's holders go with their leases). `lease` is the lease's name in Redis.
 */
export interface RemoteHoldersChanged {
  readonly type: 'remote-holders-changed';
  readonly nodeId: string;
  readonly bound?: { readonly lease: string; readonly holder: RemoteHolder };
  readonly gone?: string;
  readonly all?: readonly { readonly lease: string; readonly holder: RemoteHolder }[];
}
