import type { BalancerConfig } from '../config/types';
import type { BalancerError, RateLimitedError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext } from '../request-context';
import type { DispatchOutcome } from '../stages/dispatch-types';
import type { Strategy } from '../strategies/strategy';
import type { Estimates } from './estimates';
import type { Outcome } from './observer';
import type { SchedulerEvent } from './scheduler-events';
import type { SlotTable } from './slot-table';
import type { QueueLinks, WaitQueue, Waiting } from './wait-queue';

/**
 * The scheduler's state as its parts see it. The scheduler owns it and is its only writer; each
 * part is handed the slice it needs (a `Pick` of this) and the few scheduler steps it calls, never
 * the scheduler itself, so the parts depend on this file and not on each other.
 */
export interface PoolState {
  readonly nodes: Map<string, PoolNode>;
  readonly queue: WaitQueue<Queued>;
  readonly slots: SlotTable;
  readonly estimates: Estimates;
  readonly config: BalancerConfig;
  readonly strategy: Strategy;
  /** The scheduler's clock (epoch ms). */
  now(): number;
}

/** A waiting request as the wait queue holds it (with the queue's links in place from the start). */
export interface Queued extends Waiting, QueueLinks {
  ctx: RequestContext;
  /** Epoch ms when this stay in the queue began (a retry starts a new stay; `ctx.queuedAt` is the first). */
  waitingSince: number;
}

/** Ends a request exactly once (the scheduler's `finish`). */
export type FinishRequest = (ctx: RequestContext, outcome: Outcome, error?: BalancerError, dispatch?: DispatchOutcome) => void;

/** Posts an event to the scheduler, to be applied in order with every other. */
export type PostEvent = (evt: SchedulerEvent) => void;

/** Admission and per-node rate limits, as the scheduler consults them. */
export interface AdmissionLimiter {
  /** Global and per-client limits at admission; the error to reject with, or null. */
  check(clientKey: string | undefined, now: number): RateLimitedError | null;
  /** Takes a token from a node's bucket; false when the node is over its rate now. */
  allowNode(nodeId: string, now: number): boolean;
  /** Whether a node has a token now, without taking it (filters candidates before the strategy picks). */
  nodeAvailable?(nodeId: string, now: number): boolean;
  /**
   * Cuts each node's rate to one replica's share (Redis out, `replicas` seen), or gives the whole
   * rate back (1). Only replicas call it: their node rates are Redis's while they share it.
   */
  shareNodes?(replicas: number, now: number): void;
  /** A reloaded config's limits (applied inside the reload event, in order with everything else). */
  reconfigure?(config: BalancerConfig, now: number): void;
}

/**
 * The scheduler as the request front and its ring stage use it: admission counting, and events in.
 * (The control plane and `PoolView` are everyone else's way in.)
 */
export interface SchedulerPort {
  /** Counts a request about to enter the ring; throws BackpressureError at `maxGlobalInFlight` or in shutdown. */
  admitOrThrow(): void;
  /** Gives back the count of a request that could not enter the ring after all. */
  unadmit(): void;
  post(evt: SchedulerEvent): void;
  /** Queues an event for the next {@link drain} (the ring stage, which drains at the end of each batch). */
  accept(evt: SchedulerEvent): void;
  /** Applies what has been posted, then runs a scheduling pass (the ring stage, at the end of a batch). */
  drain(): void;
}
