/** Messages between the bench driver (main.ts) and the processes it forks. */

/** Where dispatch runs inside the gateway: the config's `disruptor.dispatchPlacement`. */
export type Placement = 'inline' | 'workers';

/** Every forked child says this once it serves; `url` is its HTTP origin. */
export interface ReadyMessage {
  type: 'ready';
  url: string;
}

/** A child that failed to start says why, then exits. */
export interface FailedMessage {
  type: 'failed';
  error: string;
}

/** The driver asks any child to close and exit. */
export interface StopMessage {
  type: 'stop';
}

/** Driver → sim or gateway: start (`on`) or stop recording the event loop's delay. */
export interface LoopMessage {
  type: 'loop';
  on: boolean;
}

/** How late the child's event loop ran timers while recording, in ms: its own queueing. */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Child → driver, answering `{ type: 'loop', on: false }`. */
export interface LoopReport extends LoopDelay {
  type: 'loop-report';
}

/** Settings of the simulated node, passed to sim-child.ts as argv[2] (JSON). */
export interface SimChildOptions {
  /** Generated tokens per second of the streaming model: the pace of its NDJSON lines. */
  streamTokensPerSec: number;
  /** Tokens in every answer (both models), fixed so that every target moves the same bytes. */
  tokens: number;
  /** Slots of the node: above every concurrency the bench drives, so the sim never queues. */
  numParallel: number;
}

/** Settings of the gateway under test, passed to gateway-child.ts as argv[2] (JSON). */
export interface GatewayChildOptions {
  simUrl: string;
  placement: Placement;
  /** Where the completion/metrics stage runs (`disruptor.metricsPlacement`); absent: the build's default. */
  metricsPlacement?: 'inline' | 'worker';
  /** Node slots and global in-flight cap: at least the bench's concurrency, so nothing queues. */
  maxInFlight: number;
  /**
   * Another build's checkout (the previous build, see baseline.ts): its packages/balancer and
   * packages/server are loaded instead of this tree's. Absent: this tree's own build.
   */
  root?: string;
  /** `--set`: config keys (dotted paths) set on this build's gateways, for an A/B of one setting. */
  set?: Record<string, unknown>;
}

/** One closed-loop load run against one target. */
export interface LoadJob {
  kind: 'requests' | 'streams';
  /** The target's origin, e.g. http://127.0.0.1:4321. */
  url: string;
  path: string;
  body: string;
  /** Concurrent requests (= connections): each loop sends its next request when the last ends. */
  concurrency: number;
  /** Results before this are dropped (JIT, connection set-up, the proxy's own warm-up). */
  warmupMs: number;
  measureMs: number;
  /**
   * Streams only: loop i waits i/concurrency of this before its first stream. Streams of one
   * length in a closed loop otherwise start and end in lockstep, and TTFT would measure the burst.
   */
  staggerMs?: number;
}

/** Percentiles of one HDR histogram, in ms. */
export interface Percentiles {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RequestsResult {
  kind: 'requests';
  /** Requests that completed (status 200, whole body read) inside the measured window. */
  completed: number;
  rps: number;
  latency: Percentiles;
  errors: number;
  firstError?: string;
}

export interface StreamsResult {
  kind: 'streams';
  /** Streams started inside the measured window and read to their last line. */
  streams: number;
  /** Token lines received by those streams. */
  lines: number;
  /**
   * Token lines received inside the measured window, by any stream: the lines the proxy moved
   * while its CPU was sampled, for the CPU per streamed line.
   */
  windowLines: number;
  /** Request sent → first token line received. */
  ttft: Percentiles;
  /** Between consecutive token lines of one stream (the final `done` line is not a token). */
  gap: Percentiles;
  errors: number;
  firstError?: string;
}

export type LoadResult = RequestsResult | StreamsResult;

/** Load child → driver: the measured window opened or closed (the driver samples CPU then). */
export interface PhaseMessage {
  type: 'phase';
  phase: 'measure' | 'end';
}

export interface ResultMessage {
  type: 'result';
  result: LoadResult;
}

/** Driver → load child. */
export interface RunMessage {
  type: 'run';
  job: LoadJob;
}

export type ToChild = RunMessage | StopMessage | LoopMessage;
export type FromChild = ReadyMessage | FailedMessage | PhaseMessage | ResultMessage | LoopReport;
