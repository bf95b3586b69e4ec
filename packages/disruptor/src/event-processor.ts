import type { Sequence } from './sequence';

/** Something that consumes from a ring on a loop: a batch processor or a work pool's member. */
export interface EventProcessor {
  /** The last sequence this processor has finished with; producers and later stages gate on it. */
  readonly sequence: Sequence;
  /** Runs the loop on this thread, blocking between events (worker threads only). Returns on halt. */
  run(): void;
  /** Runs the loop without ever blocking: it awaits between events. Resolves on halt. */
  runAsync(): Promise<void>;
  /** Asks the loop to stop; it returns after the batch it is in. */
  halt(): void;
  isRunning(): boolean;
}
