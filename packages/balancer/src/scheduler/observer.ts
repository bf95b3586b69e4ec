import type { PoolNode } from '../nodes/node';

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
 * What the scheduler reports as it works: metrics and logs subscribe. Every method is optional.
 */
export interface SchedulerObserver {
  requestEnded?(e: RequestEnd): void;
  routed?(e: { requestId: number; model: string; nodeId: string; strategy: string; cold: boolean; queueMs: number; candidates: number }): void;
  coldLoad?(nodeId: string, model: string): void;
  retry?(nodeId: string, requestId: number, reason: string): void;
  queueChanged?(depthByModel: ReadonlyMap<string, number>): void;
  queueWait?(ms: number): void;
  rejected?(kind: 'backpressure' | 'queue_full' | 'queue_timeout' | 'rate_limited' | 'no_node' | 'model_not_found' | 'validation', detail?: string): void;
  timeout?(phase: 'connect' | 'first-byte' | 'idle' | 'total' | 'queue'): void;
  nodeChanged?(node: PoolNode): void;
  nodeRemoved?(nodeId: string): void;
}
