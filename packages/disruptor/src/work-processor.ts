import { AlertError, IllegalStateError } from './errors';
import type { ExceptionHandler, WorkHandler } from './event-handler';
import { ReportAndContinueExceptionHandler, runLifecycleHook } from './event-handler';
import type { EventProcessor } from './event-processor';
import type { EventView } from './event-view';
import type { RecordSchema } from './record-layout';
import type { RingBuffer } from './ring-buffer';
import { Sequence, seqAdd, seqGe } from './sequence';
import type { SequenceBarrier } from './sequence-barrier';

export interface WorkProcessorOptions {
  exceptionHandler?: ExceptionHandler;
  /** An existing shared sequence to advance (the DSL passes one so that threads can share it). */
  sequence?: Sequence;
  /** `runAsync` only: yield one event-loop turn after this many events in a row. Default 4096. */
  yieldEvery?: number;
}

/**
 * One member of a work pool. Members share a work sequence and claim the next event from it with a
 * compare-and-swap, so each event reaches exactly one member. A member's own sequence sits just
 * before the event it has claimed, so the producer never overwrites a claimed, unfinished slot.
 */
export class WorkProcessor<S extends RecordSchema = RecordSchema> implements EventProcessor {
  readonly sequence: Sequence;
  private readonly view: EventView<S>;
  private readonly exceptionHandler: ExceptionHandler;
  private readonly yieldEvery: number;
  private running = false;
  private halted = false;

  constructor(
    private readonly ring: RingBuffer<S>,
    private readonly barrier: SequenceBarrier,
    private readonly handler: WorkHandler<S>,
    private readonly workSequence: Sequence,
    opts: WorkProcessorOptions = {},
  ) {
    this.sequence = opts.sequence ?? new Sequence(ring.getCursor());
    this.view = ring.createView();
    this.exceptionHandler = opts.exceptionHandler ?? new ReportAndContinueExceptionHandler();
    this.yieldEvery = opts.yieldEvery ?? 4096;
  }

  isRunning(): boolean {
    return this.running;
  }

  halt(): void {
    this.halted = true;
    this.barrier.alert();
  }

  run(): void {
    if (!this.begin()) return;
    try {
      let claimed = true;
      let next = this.sequence.get();
      let cachedAvailable = next;
      for (;;) {
        try {
          if (claimed) {
            claimed = false;
            next = this.claim();
          }
          if (seqGe(cachedAvailable, next)) {
            this.handle(next);
            claimed = true;
          } else {
            cachedAvailable = this.barrier.waitFor(next);
          }
        } catch (e) {
          if (e instanceof AlertError) break;
          throw e;
        }
      }
    } finally {
      this.end();
    }
  }

  async runAsync(): Promise<void> {
    if (!this.begin()) return;
    // A pending Atomics.waitAsync keeps neither the process nor a worker thread alive; this does.
    const keepAlive = setInterval(noop, 2 ** 30);
    try {
      let claimed = true;
      let next = this.sequence.get();
      let cachedAvailable = next;
      let sinceYield = 0;
      for (;;) {
        try {
          if (claimed) {
            claimed = false;
            next = this.claim();
          }
          if (seqGe(cachedAvailable, next)) {
            this.handle(next);
            claimed = true;
            if (++sinceYield >= this.yieldEvery) {
              sinceYield = 0;
              await new Promise<void>((r) => setImmediate(r));
            }
          } else {
            sinceYield = 0;
            cachedAvailable = this.barrier.tryWaitFor(next);
            if (!seqGe(cachedAvailable, next)) cachedAvailable = await this.barrier.waitForAsync(next);
          }
        } catch (e) {
          if (e instanceof AlertError) break;
          throw e;
        }
      }
    } finally {
      clearInterval(keepAlive);
      this.end();
    }
  }

  /** Takes the next unclaimed sequence from the shared work sequence. */
  private claim(): number {
    const work = this.workSequence;
    for (;;) {
      const current = work.get();
      // Publishing our position before the claim keeps gating right even if the CAS fails.
      this.sequence.set(current);
      this.ring.sequencer.waitStrategy.signal(this.sequence.signal);
      if (work.compareAndSet(current, seqAdd(current, 1))) return seqAdd(current, 1);
    }
  }

  private handle(sequence: number): void {
    try {
      this.handler.onEvent(this.view.at(sequence), sequence);
    } catch (err) {
      this.exceptionHandler.handleEventException(err, sequence, this.view);
    }
  }

  private begin(): boolean {
    if (this.running) throw new IllegalStateError('work processor is already running');
    if (this.halted) return false;
    this.running = true;
    runLifecycleHook(this.handler, 'onStart', this.exceptionHandler);
    return true;
  }

  private end(): void {
    this.running = false;
    this.halted = true;
    runLifecycleHook(this.handler, 'onShutdown', this.exceptionHandler);
  }
}

function noop(): void {}
