/** What every route handler of a node can reach. */
import type { ResolvedNode } from './config';
import type { FaultState } from './faults';
import type { ModelTable } from './models';
import type { NodeScheduler } from './scheduler';
import type { TickScheduler } from './ticker';

/** Request counters of one node (see `/_sim/state`). */
export interface NodeStats {
  /** Requests received, control API excluded. */
  requests: number;
  /** Requests by route, e.g. `POST /api/chat`. */
  byRoute: Record<string, number>;
  /** Responses by HTTP status (a mid-stream error still counts as its 200). */
  byStatus: Record<string, number>;
  /** Requests being handled right now. */
  inFlight: number;
  /**
   * Inference requests (generate, chat, embeddings, and their OpenAI forms) being handled right
   * now: what a balancer's slots for this node count. Each leaves this count as soon as its
   * handler returns, in the same tick as its last write (or when its client goes), so a balancer
   * that reuses the slot on seeing the response end never shows here as one request too many.
   */
  inferenceInFlight: number;
  /** The highest `inferenceInFlight` since start or the last stats reset. */
  peakInferenceInFlight: number;
  /** Generations that ended with a done chunk. */
  completed: number;
  /** Requests whose client went away first. */
  cancelled: number;
  /** Tokens generated across all requests. */
  tokens: number;
}

export function emptyStats(): NodeStats {
  return { requests: 0, byRoute: {}, byStatus: {}, inFlight: 0, inferenceInFlight: 0, peakInferenceInFlight: 0, completed: 0, cancelled: 0, tokens: 0 };
}

/** CPU seconds the exporter has counted (`node_cpu_seconds_total`, per CPU), and when it last counted. */
export interface CpuTime {
  /** Monotonic ms of the last count. */
  at: number;
  user: number;
  idle: number;
}

export interface NodeContext {
  readonly config: ResolvedNode;
  readonly scheduler: NodeScheduler;
  readonly faults: FaultState;
  readonly ticker: TickScheduler;
  readonly models: ModelTable;
  readonly stats: NodeStats;
  readonly cpuTime: CpuTime;
}
