import { BatchEventProcessor } from './batch-event-processor';
import { ConsumerRepository, type ConsumerInfo } from './consumer-repository';
import { IllegalStateError, InvalidArgumentError, DisruptorError, ShutdownTimeoutError, WorkerCrashedError } from './errors';
import { type EventHandler, type ExceptionHandler, ReportAndContinueExceptionHandler, reportHandlerError, type WorkHandler } from './event-handler';
import type { EventProcessor } from './event-processor';
import type { RecordSchema } from './record-layout';
import { RingBuffer, type RingBufferOptions } from './ring-buffer';
import { Sequence, seqLt } from './sequence';
import { SequenceBarrier } from './sequence-barrier';
import { WorkerHost } from './threads/worker-host';
import type { WorkerHandlerSpec } from './threads/worker-protocol';
import { WorkProcessor } from './work-processor';

/** A handler that runs inline on the main thread's event loop, or a spec for one on a worker thread. */
export type HandlerSpec<S extends RecordSchema> = EventHandler<S> | WorkerHandlerSpec;
/** A work-pool member: inline, or on a worker thread. */
export type WorkHandlerSpec<S extends RecordSchema> = WorkHandler<S> | WorkerHandlerSpec;

export interface DisruptorOptions<S extends RecordSchema> extends RingBufferOptions<S> {
  /** Cap on the events a batch processor handles before it advances its sequence. */
  maxBatchSize?: number;
  /** For inline handlers. Default: report through `onHandlerError` and go on. */
  exceptionHandler?: ExceptionHandler;
  /** Where handler errors are reported, from every thread. Default: `process.emitWarning`. */
  onHandlerError?: (message: string, error: unknown) => void;
  /** Called once when a handler thread crashes; the disruptor then halts. */
  onFatalError?: (error: DisruptorError) => void;
  /** How long `halt()` lets a handler thread finish its current event before terminating it. Default 5000. */
  threadGraceMs?: number;
}

function isWorkerSpec(h: object): h is WorkerHandlerSpec {
  return typeof (h as WorkerHandlerSpec).module === 'string';
}

/**
 * The handler graph and lifecycle around one ring buffer.
 *
 * @example
 * const d = new Disruptor({ layout, size: 1024, producerType: 'single' });
 * d.handleEventsWith(parse, log).then(store);         // parse and log in parallel, store after both
 * d.after(parse).handleEventsWith(audit);              // a second branch after parse
 * d.handleEventsWith({ module: '/abs/dist/heavy.js' }); // a stage on a worker thread
 * const ring = await d.start();
 * ring.publishEvent((e) => { e.id = 1; });
 * await d.shutdown(1000);
 */
export class Disruptor<S extends RecordSchema = RecordSchema> {
  readonly ringBuffer: RingBuffer<S>;
  private readonly repo = new ConsumerRepository();
  private readonly opts: DisruptorOptions<S>;
  private readonly report: (message: string, error: unknown) => void;
  private state: 'building' | 'starting' | 'running' | 'halting' | 'halted' = 'building';
  private runs: Promise<void>[] = [];
  private keepAlive: NodeJS.Timeout | undefined;
  private failure: DisruptorError | undefined;
  private haltPromise: Promise<void> | undefined;
  private threadCount = 0;

  constructor(opts: DisruptorOptions<S>) {
    this.opts = opts;
    this.ringBuffer = RingBuffer.create(opts);
    this.report = opts.onHandlerError ?? reportHandlerError;
  }

  /** Stages that read straight from the producer, in parallel with each other. */
  handleEventsWith(...handlers: HandlerSpec<S>[]): EventHandlerGroup<S> {
    return this.createEventProcessors([], handlers);
  }

  /** A work pool reading straight from the producer: each event to exactly one member. */
  handleEventsWithWorkerPool(...handlers: WorkHandlerSpec<S>[]): EventHandlerGroup<S> {
    return this.createWorkerPool([], handlers);
  }

  /** A group made of stages already added, to hang later stages after them. */
  after(...handlers: object[]): EventHandlerGroup<S> {
    const sequences = handlers.flatMap((h) => {
      const c = this.repo.find(h);
      if (!c) throw new InvalidArgumentError('after(): handler has not been added to this disruptor');
      return [...c.sequences];
    });
    return new EventHandlerGroup(this, sequences);
  }

  /** Starts every stage; resolves with the ring once every handler thread is ready. */
  async start(): Promise<RingBuffer<S>> {
    if (this.state !== 'building') throw new IllegalStateError(`start() called twice (state ${this.state})`);
    if (this.repo.all().length === 0) throw new IllegalStateError('start(): no handlers have been added');
    this.state = 'starting';
    // Inline processors await waitAsync, which does not keep Node alive; this handle does, until halt.
    this.keepAlive = setInterval(noop, 2 ** 30);
    try {
      await Promise.all(this.repo.all().flatMap((c) => c.hosts.map((h) => h.start())));
    } catch (e) {
      await this.halt();
      throw e;
    }
    if (this.failure) throw this.failure;
    this.state = 'running';
    for (const c of this.repo.all()) {
      for (const p of c.inline) this.runs.push(p.runAsync().catch((e: unknown) => this.fail(asFatal(e))));
    }
    return this.ringBuffer;
  }

  /**
   * Stops every stage now, whatever is still unread, and stops producers from waiting: their
   * claims throw afterwards. Resolves when every thread has exited.
   */
  halt(): Promise<void> {
    if (this.haltPromise) return this.haltPromise;
    this.state = 'halting';
    this.haltPromise = (async () => {
      this.ringBuffer.sequencer.halt(this.failure?.message ?? 'disruptor halted');
      for (const c of this.repo.all()) for (const b of c.barriers) b.alert();
      const grace = this.opts.threadGraceMs ?? 5000;
      await Promise.all([...this.runs, ...this.repo.all().flatMap((c) => c.hosts.map((h) => h.stop(grace)))]);
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
      this.state = 'halted';
    })();
    return this.haltPromise;
  }

  /**
   * Lets every stage drain what has been published, then halts. Throws `ShutdownTimeoutError`
   * (after halting anyway) if draining takes longer than `timeoutMs`.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    if (this.state === 'running') {
      const deadline = performance.now() + timeoutMs;
      while (this.hasBacklog() && !this.failure) {
        if (performance.now() >= deadline) {
          await this.halt();
          throw new ShutdownTimeoutError(`shutdown: stages did not drain within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    await this.halt();
    if (this.failure) throw this.failure;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** True while some last stage has not reached the cursor. */
  hasBacklog(): boolean {
    const cursor = this.ringBuffer.getCursor();
    return this.repo.lastStageSequences().some((s) => seqLt(s.get(), cursor));
  }

  /** The sequence of a stage (or the minimum over a pool), e.g. to watch its progress. */
  getSequenceValueFor(handler: object): number {
    const c = this.repo.find(handler);
    if (!c) throw new InvalidArgumentError('handler has not been added to this disruptor');
    return c.sequences.reduce((m, s) => (seqLt(s.get(), m) ? s.get() : m), c.sequences[0].get());
  }

  /** The crash that halted this disruptor, if any. */
  getFailure(): DisruptorError | undefined {
    return this.failure;
  }

  isRunning(): boolean {
    return this.state === 'running';
  }

  /** @internal used by EventHandlerGroup */
  createEventProcessors(barrierSequences: readonly Sequence[], handlers: HandlerSpec<S>[]): EventHandlerGroup<S> {
    this.checkBuilding();
    if (handlers.length === 0) throw new InvalidArgumentError('handleEventsWith() needs at least one handler');
    const created: Sequence[] = [];
    for (const h of handlers) {
      const barrier = new SequenceBarrier(this.ringBuffer.sequencer, barrierSequences);
      const sequence = new Sequence(this.ringBuffer.getCursor());
      let inline: EventProcessor[] = [];
      let hosts: WorkerHost[] = [];
      if (isWorkerSpec(h)) {
        hosts = [this.host(h, 'batch', barrier, sequence)];
      } else {
        inline = [
          new BatchEventProcessor(this.ringBuffer, barrier, h, {
            sequence,
            maxBatchSize: this.opts.maxBatchSize,
            exceptionHandler: this.opts.exceptionHandler ?? new ReportAndContinueExceptionHandler(this.report),
          }),
        ];
      }
      this.repo.add({ keys: [h], sequences: [sequence], barriers: [barrier], inline, hosts, endOfChain: true });
      created.push(sequence);
    }
    this.gateOn(created, barrierSequences);
    return new EventHandlerGroup(this, created);
  }

  /** @internal used by EventHandlerGroup */
  createWorkerPool(barrierSequences: readonly Sequence[], handlers: WorkHandlerSpec<S>[]): EventHandlerGroup<S> {
    this.checkBuilding();
    if (handlers.length === 0) throw new InvalidArgumentError('a worker pool needs at least one handler');
    const barrier = new SequenceBarrier(this.ringBuffer.sequencer, barrierSequences);
    const workSequence = new Sequence(this.ringBuffer.getCursor());
    const inline: EventProcessor[] = [];
    const hosts: WorkerHost[] = [];
    const sequences: Sequence[] = [];
    for (const h of handlers) {
      const sequence = new Sequence(this.ringBuffer.getCursor());
      sequences.push(sequence);
      if (isWorkerSpec(h)) hosts.push(this.host(h, 'work', barrier, sequence, workSequence));
      else {
        inline.push(
          new WorkProcessor(this.ringBuffer, barrier, h, workSequence, {
            sequence,
            exceptionHandler: this.opts.exceptionHandler ?? new ReportAndContinueExceptionHandler(this.report),
          }),
        );
      }
    }
    sequences.push(workSequence);
    const info: ConsumerInfo = { keys: handlers, sequences, barriers: [barrier], inline, hosts, endOfChain: true };
    this.repo.add(info);
    this.gateOn(sequences, barrierSequences);
    return new EventHandlerGroup(this, sequences);
  }

  /** Producers gate on the new last stages instead of the stages they now follow. */
  private gateOn(added: readonly Sequence[], upstream: readonly Sequence[]): void {
    this.ringBuffer.addGatingSequences(...added);
    for (const s of upstream) this.ringBuffer.removeGatingSequence(s);
    this.repo.unmarkEndOfChain(upstream);
  }

  private host(spec: WorkerHandlerSpec, kind: 'batch' | 'work', barrier: SequenceBarrier, sequence: Sequence, workSequence?: Sequence): WorkerHost {
    const name = spec.name ?? `${kind}-${++this.threadCount}`;
    return new WorkerHost(
      spec,
      {
        kind,
        name,
        ring: this.ringBuffer.describe(),
        barrier: barrier.describe(),
        sequence: sequence.sab,
        workSequence: workSequence?.sab,
        module: spec.module,
        exportName: spec.export ?? 'createHandler',
        options: spec.options,
        mode: spec.mode ?? 'blocking',
        maxBatchSize: this.opts.maxBatchSize,
      },
      { onCrash: (e) => this.fail(e), onHandlerError: (m, e) => this.report(m, e) },
    );
  }

  private fail(error: DisruptorError): void {
    if (this.failure) return;
    this.failure = error;
    try {
      this.opts.onFatalError?.(error);
    } finally {
      if (this.state !== 'starting') void this.halt();
      else this.ringBuffer.sequencer.halt(error.message);
    }
  }

  private checkBuilding(): void {
    if (this.state !== 'building') throw new IllegalStateError('handlers must be added before start()');
  }
}

/**
 * A set of stages, returned by the DSL, to chain later stages after.
 */
export class EventHandlerGroup<S extends RecordSchema = RecordSchema> {
  constructor(
    private readonly disruptor: Disruptor<S>,
    /** The sequences of the stages in this group. */
    readonly sequences: readonly Sequence[],
  ) {}

  /** Stages that run after every stage of this group. */
  then(...handlers: HandlerSpec<S>[]): EventHandlerGroup<S> {
    return this.handleEventsWith(...handlers);
  }

  handleEventsWith(...handlers: HandlerSpec<S>[]): EventHandlerGroup<S> {
    return this.disruptor.createEventProcessors(this.sequences, handlers);
  }

  /** A work pool after every stage of this group. */
  thenHandleEventsWithWorkerPool(...handlers: WorkHandlerSpec<S>[]): EventHandlerGroup<S> {
    return this.disruptor.createWorkerPool(this.sequences, handlers);
  }

  /** This group together with another: later stages wait for both. */
  and(other: EventHandlerGroup<S>): EventHandlerGroup<S> {
    return new EventHandlerGroup(this.disruptor, [...this.sequences, ...other.sequences]);
  }

  /** A barrier on this group, for a consumer you run yourself. */
  asSequenceBarrier(): SequenceBarrier {
    return new SequenceBarrier(this.disruptor.ringBuffer.sequencer, this.sequences);
  }
}

function asFatal(e: unknown): DisruptorError {
  if (e instanceof DisruptorError) return e;
  return new WorkerCrashedError(`inline handler failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

function noop(): void {}
