import type { ByteArena } from '@ollama-ring/disruptor';
import type { BalancerConfig, StrategyConfig } from '../config/types';
import type { RequestTable } from '../request-context';
import type { DispatchPort } from '../stages/dispatch-types';
import type { Strategy } from '../strategies/strategy';
import type { Estimates } from './estimates';
import type { SharedSlotGate } from './shared-slots';
import type { SchedulerObserver } from './observer';
import type { AdmissionLimiter, PostEvent } from './pool-state';
import type { CommandReplies, SchedulerEvent } from './scheduler-events';

/** What the scheduler is built with: its state's collaborators and where its outputs go. */
export interface SchedulerDeps {
  config: BalancerConfig;
  table: RequestTable;
  arena: ByteArena;
  dispatcher: DispatchPort;
  estimates: Estimates;
  /**
   * Builds a strategy by name with the config's strategy settings (`strategy.hybrid`, the
   * `performance` weights, …), which the scheduler passes from the config in force.
   */
  createStrategy: (name: string, settings: StrategyConfig) => Strategy;
  limiter?: AdmissionLimiter;
  observer?: SchedulerObserver;
  /** Where commands are answered (the control plane); without it, command events are applied unanswered. */
  replies?: CommandReplies;
  /**
   * Where the scheduler's own parts send the events they make (a dispatch's completion, a timer's
   * tick, a retry's end of backoff): the INGRESS ring's event inlet in the pipeline, so that they
   * come back in ring order with everything else. Default: straight to {@link Scheduler.post}.
   */
  post?: PostEvent;
  /**
   * Probes a node suspected of hanging at once, with `failover.probeTimeoutMs`; the result comes back
   * as a `health-checked` event with `suspect` set. Absent: suspected nodes are only taken out of
   * rotation, and come back through the breaker's recovery time.
   */
  probe?: (nodeId: string) => void;
  /**
   * The slot leases shared with other replicas (`state.backend: redis`): a request binds only with
   * a lease on its node. Absent (the memory backend): the slot table alone counts, as always.
   */
  shared?: SharedSlotGate;
  /** Hears every event as it is applied, and every scheduling pass (an event log, for replay). */
  journal?: SchedulerJournal;
  now?: () => number;
}

/** What a recorder of the scheduler's inputs hears: enough to replay a run into a fresh scheduler. */
export interface SchedulerJournal {
  /** An event, about to be applied at `at` (the scheduler's clock). */
  event(evt: SchedulerEvent, at: number): void;
  /** A scheduling pass (binding what the free slots allow) at `at`, after a batch of events. */
  pass(at: number): void;
}
