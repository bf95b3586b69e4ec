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
