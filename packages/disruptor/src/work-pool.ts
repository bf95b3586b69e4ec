import type { ExceptionHandler, WorkHandler } from './event-handler';
import type { RecordSchema } from './record-layout';
import type { RingBuffer } from './ring-buffer';
import { Sequence } from './sequence';
import type { SequenceBarrier } from './sequence-barrier';
import { WorkProcessor } from './work-processor';

/**
 * N handlers that share the events of a ring: each event goes to exactly one of them. Use it for
 * work that is independent per event (validation, dispatch) to spread it over threads.
 *
 * @example
 * const pool = new WorkPool(ring, ring.newBarrier(), [h1, h2, h3]);
 * ring.addGatingSequences(...pool.getWorkerSequences());
 * pool.startAsync();
 */
export class WorkPool<S extends RecordSchema = RecordSchema> {
  /** The last sequence claimed by any member. */
  readonly workSequence: Sequence;
  readonly processors: readonly WorkProcessor<S>[];
  private runs: Promise<void>[] = [];

  constructor(ring: RingBuffer<S>, barrier: SequenceBarrier, handlers: readonly WorkHandler<S>[], opts: { exceptionHandler?: ExceptionHandler } = {}) {
    const start = ring.getCursor();
    this.workSequence = new Sequence(start);
    this.processors = handlers.map((h) => new WorkProcessor(ring, barrier, h, this.workSequence, { exceptionHandler: opts.exceptionHandler }));
  }

  /** Every member's sequence and the work sequence: what producers and later stages gate on. */
  getWorkerSequences(): Sequence[] {
    return [...this.processors.map((p) => p.sequence), this.workSequence];
  }

  /** Runs every member on this thread's event loop (none of them blocks). */
  startAsync(): Promise<void> {
    this.runs = this.processors.map((p) => p.runAsync());
    return Promise.all(this.runs).then(() => undefined);
  }

  halt(): void {
    for (const p of this.processors) p.halt();
  }
}
