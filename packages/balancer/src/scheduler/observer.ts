import type { PoolNode } from '../nodes/node';
import type { FallbackReason } from './hint-rules';

/** How a request ended, for metrics and logs. */
export type Outcome = 'success' | 'client_error' | 'upstream_error' | 'timeout' | 'aborted' | 'rejected';

export interface RequestEnd {
  requestId: number;
  model: string;
  nodeId: string;
  outcome: Outcome;
  /** The error's stable code, when it ended with one. */
  errorCode?: string;
  latencyMs: number;
  ttftMs: number;
  queueMs: number;
  retries: number;
  evalTokens: number;
}

/**
 * Why a node was suspected of hanging: a stream's learned first-byte deadline passed, a stream
 * stalled, a connect timed out, or a non-streamed answer ran past its expected time.
 */
export type SuspicionCause = 'first-byte' | 'stall' | 'connect' | 'overdue';

/**
 * What the scheduler reports as it works: metrics and logs subscribe. Every method is optional.
 */
export interface SchedulerObserver {
  requestEnded?(e: RequestEnd): void;
  routed?(e: { requestId: number; model: string; nodeId: string; strategy: string; cold: boolean; queueMs: number; candidates: number }): void;
  coldLoad?(nodeId: string, model: string): void;
  /** A request was switched from `model` (normalised) to its fallback model, for `reason`. */
  fellBack?(e: { requestId: number; model: string; fallback: string; reason: FallbackReason }): void;
  retry?(nodeId: string, requestId: number, reason: string): void;
  queueChanged?(depthByModel: ReadonlyMap<string, number>): void;
  queueWait?(ms: number): void;
  rejected?(kind: 'backpressure' | 'queue_full' | 'queue_timeout' | 'rate_limited' | 'no_node' | 'model_not_found' | 'validation', detail?: string): void;
  timeout?(phase: 'connect' | 'first-byte' | 'idle' | 'total' | 'queue'): void;
  /** A node missed a deadline or ran overdue, and is being probed. */
  suspected?(nodeId: string, cause: SuspicionCause): void;
  nodeChanged?(node: PoolNode): void;
  nodeRemoved?(nodeId: string): void;
}

/** Every method an observer may have (an observer may be a plain object or a class instance). */
const OBSERVER_METHODS = [
  'requestEnded',
  'routed',
  'coldLoad',
  'fellBack',
  'retry',
  'queueChanged',
  'queueWait',
  'rejected',
  'timeout',
  'suspected',
  'nodeChanged',
  'nodeRemoved',
] as const satisfies readonly (keyof SchedulerObserver)[];

/** Calls every observer in turn; only the methods some observer has are present. */
export function combineObservers(...list: (SchedulerObserver | undefined)[]): SchedulerObserver {
  const obs = list.filter((o): o is SchedulerObserver => o !== undefined);
  if (obs.length === 1) return obs[0];
  const out: SchedulerObserver = {};
  for (const k of OBSERVER_METHODS) {
    const has = obs.filter((o) => typeof o[k] === 'function');
    if (has.length === 0) continue;
    (out as Record<string, (...a: unknown[]) => void>)[k] = (...args: unknown[]) => {
      for (const o of has) (o[k] as (...a: unknown[]) => void).apply(o, args);
    };
  }
  return out;
}

/**
 * Observers that come and go while the pipeline runs (the gateway's dashboard, say): the scheduler
 * is built with one observer, fixed, so the factory gives it this one, which calls whoever is
 * subscribed at the time. With nobody subscribed a call costs a loop over an empty list.
 *
 * @example const off = taps.add({ coldLoad: (node, model) => console.log(node, model) }); off();
 */
export class ObserverTaps {
  /** The observer to hand the scheduler. */
  readonly observer: SchedulerObserver;
  private list: SchedulerObserver[] = [];

  constructor() {
    const out: SchedulerObserver = {};
    for (const k of OBSERVER_METHODS) {
      (out as Record<string, (...a: unknown[]) => void>)[k] = (...args: unknown[]) => {
        for (const o of this.list) {
          try {
            (o[k] as ((...a: unknown[]) => void) | undefined)?.apply(o, args);
          } catch (e) {
            // A subscriber that throws must not take the scheduler down with it.
            process.emitWarning(`scheduler observer threw: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      };
    }
    this.observer = out;
  }

  /** Subscribes `o` until the returned function is called. */
  add(o: SchedulerObserver): () => void {
    // Copied on change, so that a subscriber leaving during a call does not skip another.
    this.list = [...this.list, o];
    return () => {
      this.list = this.list.filter((x) => x !== o);
    };
  }
}
