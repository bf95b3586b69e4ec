import { AlertError, IllegalStateError, WaitTimeoutError } from './errors';
import type { EventHandler, ExceptionHandler } from './event-handler';
import { ReportAndContinueExceptionHandler, runLifecycleHook } from './event-handler';
import type { EventProcessor } from './event-processor';
import type { EventView } from './event-view';
import type { RecordSchema } from './record-layout';
import type { RingBuffer } from './ring-buffer';
import { Sequence, seqAdd, seqGe, seqLe, seqLt } from './sequence';
import type { SequenceBarrier } from './sequence-barrier';

export interface BatchEventProcessorOptions {
  /** Upper bound on the events handled before the processor advances its sequence. Default: unbounded. */
  maxBatchSize?: number;
  exceptionHandler?: ExceptionHandler;
  /**
   * `runAsync` only: after this many events in a row it yields one event-loop turn, so that a
   * handler on the main thread never starves I/O. Default 4096.
   */
  yieldEvery?: number;
  /** An existing shared sequence to advance (the DSL passes one so that threads can share it). */
  sequence?: Sequence;
}

const IDLE = 0;
const RUNNING = 1;
const HALTED = 2;

/**
 * The consumer loop: wait on the barrier for a batch, announce it with `onBatchStart`, call
 * `onEvent` for each event, then advance the sequence once for the whole batch.
 *
 * @example
 * const p = new BatchEventProcessor(ring, ring.newBarrier(), { onEvent(e) { sum += e.value; } });
 * ring.addGatingSequences(p.sequence);
 * void p.runAsync(); // main thread; p.run() on a worker
 */
export class BatchEventProcessor<S extends RecordSchema = RecordSchema> implements EventProcessor {
  readonly sequence: Sequence;
  private readonly view: EventView<S>;
  private readonly maxBatch: number;
  private readonly exceptionHandler: ExceptionHandler;
  private readonly manualRelease: boolean;
  private readonly yieldEvery: number;
  private state = IDLE;

  constructor(
    private readonly ring: RingBuffer<S>,
    private readonly barrier: SequenceBarrier,
    private readonly handler: EventHandler<S>,
    opts: BatchEventProcessorOptions = {},
  ) {
    this.sequence = opts.sequence ?? new Sequence(ring.getCursor());
    this.view = ring.createView();
    this.maxBatch = opts.maxBatchSize && opts.maxBatchSize > 0 ? opts.maxBatchSize : 0;
    this.exceptionHandler = opts.exceptionHandler ?? new ReportAndContinueExceptionHandler();
    this.yieldEvery = opts.yieldEvery ?? 4096;
    this.manualRelease = typeof handler.setSequenceCallback === 'function';
    if (this.manualRelease) handler.setSequenceCallback!(this.sequence);
  }

  isRunning(): boolean {
    return this.state === RUNNING;
  }

  halt(): void {
    this.state = HALTED;
    this.barrier.alert();
  }

  run(): void {
    if (!this.begin()) return;
    let next = seqAdd(this.sequence.get(), 1);
    try {
      for (;;) {
        try {
          const available = this.barrier.waitFor(next);
          next = this.processBatch(next, available);
        } catch (e) {
          if (!this.onWaitError(e, next)) break;
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
    let next = seqAdd(this.sequence.get(), 1);
    let sinceYield = 0;
    try {
      for (;;) {
        try {
          let available = this.barrier.tryWaitFor(next);
          if (seqLt(available, next)) {
            sinceYield = 0;
            available = await this.barrier.waitForAsync(next);
          }
          const before = next;
          next = this.processBatch(next, available);
          sinceYield += seqAdd(next, -before);
          if (sinceYield >= this.yieldEvery) {
            sinceYield = 0;
            await new Promise<void>((r) => setImmediate(r));
          }
        } catch (e) {
          if (!this.onWaitError(e, next)) break;
        }
      }
    } finally {
      clearInterval(keepAlive);
      this.end();
    }
  }

  /** Handles [next, available] (capped at the batch size) and returns the next sequence to read. */
  private processBatch(next: number, available: number): number {
    let end = available;
    if (this.maxBatch > 0 && seqLt(seqAdd(next, this.maxBatch - 1), available)) end = seqAdd(next, this.maxBatch - 1);
    const h = this.handler;
    if (h.onBatchStart) h.onBatchStart(seqAdd(end, 1 - next), seqAdd(available, 1 - next));
    const view = this.view;
    let s = next;
    while (seqLe(s, end)) {
      try {
        h.onEvent(view.at(s), s, s === end);
      } catch (err) {
        // A halting exception handler rethrows; the sequence stays before the failed event.
        this.exceptionHandler.handleEventException(err, s, view);
      }
      s = seqAdd(s, 1);
    }
    if (!this.manualRelease) {
      this.sequence.set(end);
      this.ring.sequencer.waitStrategy.signal(this.sequence.signal);
    }
    return s;
  }

  /** Returns true to keep looping. */
  private onWaitError(e: unknown, next: number): boolean {
    // The alert is the halt signal, also when it is raised from another thread that cannot reach
    // this object's state: an alerted processor always stops.
    if (e instanceof AlertError) return false;
    if (e instanceof WaitTimeoutError) {
      if (this.handler.onTimeout) {
        try {
          this.handler.onTimeout(seqAdd(next, -1));
        } catch (err) {
          this.exceptionHandler.handleEventException(err, seqAdd(next, -1), null);
        }
      }
      return this.state === RUNNING;
    }
    this.state = HALTED;
    throw e;
  }

  /** Returns false when the processor was halted before it ever ran: it then does not start. */
  private begin(): boolean {
    if (this.state === RUNNING) throw new IllegalStateError('processor is already running');
    if (this.state === HALTED) return false;
    this.state = RUNNING;
    runLifecycleHook(this.handler, 'onStart', this.exceptionHandler);
    return true;
  }

  private end(): void {
    runLifecycleHook(this.handler, 'onShutdown', this.exceptionHandler);
    this.state = HALTED;
  }

  /** How far this processor lags the readable end (for metrics). */
  lag(): number {
    const hi = this.barrier.getCursor();
    const at = this.sequence.get();
    return seqGe(hi, at) ? seqAdd(hi, -at) : 0;
  }
}

function noop(): void {}
