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
 * The scheduler's observer when observers may come and go while the pipeline runs (the gateway's
 * dashboard, say): the scheduler is built with one observer object, fixed, so the factory gives it
 * this one's `observer` and keeps its methods in step with who is subscribed. A method no one has
 * is absent, as with {@link combineObservers}, so the scheduler skips building its arguments (a
 * queue's depth by model, say); with no subscriber, each method is the fixed observer's own.
 *
 * @example
 * const taps = new ObserverTaps();
 * taps.setBase(metricsObserver);
 * const off = taps.add({ coldLoad: (node, model) => console.log(node, model) }); off();
 */
export class ObserverTaps {
  /** The observer to hand the scheduler; its methods change as subscribers come and go. */
  readonly observer: SchedulerObserver = {};
  private base: SchedulerObserver = {};
  private list: SchedulerObserver[] = [];

  /** The observer fixed for the pipeline's life (metrics, `FactoryOptions.observer`). */
  setBase(base: SchedulerObserver): void {
    this.base = base;
    this.rebuild();
  }

  /** Subscribes `o` until the returned function is called. */
  add(o: SchedulerObserver): () => void {
    this.list = [...this.list, o];
    this.rebuild();
    return () => {
      this.list = this.list.filter((x) => x !== o);
      this.rebuild();
    };
  }

  private rebuild(): void {
    type Method = (...a: unknown[]) => void;
    const out = this.observer as Record<string, Method | undefined>;
    const base = this.base as Record<string, Method | undefined>;
    for (const k of OBSERVER_METHODS) {
      const own = base[k]?.bind(this.base);
      const subs = this.list.filter((o) => typeof o[k] === 'function');
      if (subs.length === 0) {
        if (own) out[k] = own;
        else delete out[k];
        continue;
      }
      out[k] = (...args: unknown[]) => {
        own?.(...args);
        for (const o of subs) {
          try {
            (o[k] as Method).apply(o, args);
          } catch (e) {
            // A subscriber that throws must not take the scheduler down with it.
            process.emitWarning(`scheduler observer threw: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      };
    }
  }
}
