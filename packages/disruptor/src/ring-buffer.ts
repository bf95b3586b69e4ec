import { InsufficientCapacityError } from './errors';
import { createEventView, type EventView } from './event-view';
import { MultiProducerSequencer } from './multi-producer-sequencer';
import { RecordLayout, type RecordSchema } from './record-layout';
import { INITIAL_SEQUENCE, type Sequence } from './sequence';
import { SequenceBarrier } from './sequence-barrier';
import type { Sequencer, SequencerDescriptor } from './sequencer';
import { SingleProducerSequencer } from './single-producer-sequencer';
import { createWaitStrategy } from './wait-strategies';
import type { WaitStrategy, WaitStrategyDescriptor, WaitStrategyKind } from './wait-strategies/wait-strategy';

export type ProducerType = 'single' | 'multi';

export interface RingBufferOptions<S extends RecordSchema> {
  /** The record every slot holds. */
  layout: RecordLayout<S>;
  /** Number of slots, a power of two. */
  size: number;
  /** `single` when exactly one thread publishes (faster), `multi` otherwise. Default `multi`. */
  producerType?: ProducerType;
  /**
   * Default `lite-blocking`: threads sleep when idle (on a 2-core machine a spinning thread would
   * steal the only other core), and it measured fastest of the blocking kinds in bench:engine.
   */
  waitStrategy?: WaitStrategy | WaitStrategyKind | WaitStrategyDescriptor;
  /** Where sequences start. Tests start just below the int32 wrap point. Default -1. */
  initialSequence?: number;
}

/** Plain, postable data from which a ring is re-attached on another thread. */
export interface RingBufferDescriptor {
  schema: RecordSchema;
  size: number;
  data: SharedArrayBuffer;
  sequencer: SequencerDescriptor;
}

/**
 * A power-of-two ring of fixed-size records in a SharedArrayBuffer, with the sequencer that hands
 * out its slots. Fields are read and written through `EventView`s, which allocate nothing per
 * access; plain JS objects never live in slots.
 *
 * @example
 * const layout = RecordLayout.define({ id: 'int32', at: 'float64' });
 * const ring = RingBuffer.create({ layout, size: 1024, producerType: 'single' });
 * ring.publishEvent((e, seq) => { e.id = seq; });
 */
export class RingBuffer<S extends RecordSchema = RecordSchema> {
  readonly layout: RecordLayout<S>;
  readonly size: number;
  readonly mask: number;
  readonly data: SharedArrayBuffer;
  readonly sequencer: Sequencer;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly producerView: EventView<S>;

  private constructor(layout: RecordLayout<S>, size: number, data: SharedArrayBuffer, sequencer: Sequencer) {
    this.layout = layout;
    this.size = size;
    this.mask = size - 1;
    this.data = data;
    this.sequencer = sequencer;
    this.i32 = new Int32Array(data);
    this.f64 = new Float64Array(data);
    this.producerView = this.createView();
  }

  static create<S extends RecordSchema>(opts: RingBufferOptions<S>): RingBuffer<S> {
    const ws =
      opts.waitStrategy === undefined
        ? createWaitStrategy('lite-blocking')
        : typeof opts.waitStrategy === 'string' || !('prepareIdle' in opts.waitStrategy)
          ? createWaitStrategy(opts.waitStrategy as WaitStrategyKind | WaitStrategyDescriptor)
          : opts.waitStrategy;
    const initial = opts.initialSequence ?? INITIAL_SEQUENCE;
    const sequencer = (opts.producerType ?? 'multi') === 'single' ? new SingleProducerSequencer(opts.size, ws, initial) : new MultiProducerSequencer(opts.size, ws, initial);
    const data = new SharedArrayBuffer(opts.size * opts.layout.byteSize);
    return new RingBuffer(opts.layout, opts.size, data, sequencer);
  }

  /** The same ring, seen from another thread. */
  static attach<S extends RecordSchema = RecordSchema>(d: RingBufferDescriptor): RingBuffer<S> {
    const ws = createWaitStrategy(d.sequencer.waitStrategy);
    const sequencer = d.sequencer.type === 'single' ? SingleProducerSequencer.attach(d.sequencer, ws) : MultiProducerSequencer.attach(d.sequencer, ws);
    return new RingBuffer(RecordLayout.define(d.schema as S), d.size, d.data, sequencer);
  }

  describe(): RingBufferDescriptor {
    return { schema: this.layout.schema, size: this.size, data: this.data, sequencer: this.sequencer.describe() };
  }

  /** A new view of its own; give one to each handler so that no two share a position. */
  createView(): EventView<S> {
    return createEventView(this.layout, this.i32, this.f64, this.mask);
  }

  /** The producer's view, positioned at `sequence`. Use it between `next` and `publish`. */
  get(sequence: number): EventView<S> {
    return this.producerView.at(sequence);
  }

  next(n = 1): number {
    return this.sequencer.next(n);
  }

  tryNext(n = 1): number {
    return this.sequencer.tryNext(n);
  }

  nextAsync(n = 1): Promise<number> {
    return this.sequencer.nextAsync(n);
  }

  publish(sequence: number): void {
    this.sequencer.publish(sequence);
  }

  publishRange(lo: number, hi: number): void {
    this.sequencer.publishRange(lo, hi);
  }

  /** Claims a slot (waiting for capacity on worker threads), fills it with `fill`, and publishes it. */
  publishEvent(fill: (event: EventView<S>, sequence: number) => void): number {
    const seq = this.sequencer.next(1);
    try {
      fill(this.producerView.at(seq), seq);
    } finally {
      this.sequencer.publish(seq);
    }
    return seq;
  }

  /** As `publishEvent`, but returns false at once when the ring is full. */
  tryPublishEvent(fill: (event: EventView<S>, sequence: number) => void): boolean {
    let seq: number;
    try {
      seq = this.sequencer.tryNext(1);
    } catch (e) {
      if (e instanceof InsufficientCapacityError) return false;
      throw e;
    }
    try {
      fill(this.producerView.at(seq), seq);
    } finally {
      this.sequencer.publish(seq);
    }
    return true;
  }

  remainingCapacity(): number {
    return this.sequencer.remainingCapacity();
  }

  getCursor(): number {
    return this.sequencer.cursor.get();
  }

  addGatingSequences(...sequences: Sequence[]): void {
    this.sequencer.addGatingSequences(...sequences);
  }

  removeGatingSequence(sequence: Sequence): boolean {
    return this.sequencer.removeGatingSequence(sequence);
  }

  newBarrier(...dependents: Sequence[]): SequenceBarrier {
    return new SequenceBarrier(this.sequencer, dependents);
  }
}
