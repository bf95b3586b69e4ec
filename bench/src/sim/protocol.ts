/** Messages between the benchmark driver and the process that hosts the simulated pool. */

export interface SimChildOptions {
  nodes: number;
  streamsPerNode: number;
  tokensPerSec: number;
  tokens: number;
  /** 'shared' (the sim's ticker) or 'per-task' (one setTimeout per token, for comparison). */
  timer: 'shared' | 'per-task';
}

export type ChildMessage =
  | { type: 'ready'; urls: string[] }
  | {
      type: 'stats';
      /** CPU seconds (user + system) the sim process used while streams ran. */
      cpuSeconds: number;
      wallSeconds: number;
      /** Event-loop delay of the sim process, in ms. */
      loopDelayP50Ms: number;
      loopDelayP99Ms: number;
      loopDelayMaxMs: number;
      tokensServed: number;
      /** Token emission gap error measured inside the sim, over the steady window. */
      emission: { gaps: number; p50: number; p99: number; p999: number };
    };

/** `stop` carries the steady window in epoch ms, so the sim can summarise the same interval. */
export type ParentMessage = { type: 'measure-start' } | { type: 'stop'; windowFromEpochMs: number; windowToEpochMs: number };
