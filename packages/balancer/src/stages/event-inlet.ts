import { PipelineStateError } from '../errors';
import { InsufficientCapacityError, type RingBuffer } from '@ollama-ring/disruptor';
import type { ControlSchema } from '../events';
import type { SchedulerEvent } from '../scheduler/scheduler-events';

/**
 * Puts scheduler events on the CONTROL ring, whose single batch event processor is the scheduler
 * (`stages/control.ts`): completions, aborts, commands, probe results and timer ticks all enter
 * here, in order, batched by the engine. The event itself waits in a side array beside the ring,
 * at its slot's index, until the control stage takes it: events are small objects on the main
 * thread, where both ends live, and a slot is not claimed again before its record is consumed.
 *
 * Nothing is ever dropped. When the ring has no free slot (events come faster than the stage
 * drains them), an event waits in `overflow`, and every later event queues behind it there, so
 * their order holds; the control stage takes the overflow at the end of each batch. A full ring has
 * unconsumed records, so a batch end is always coming. The overflow is bounded by what can be
 * outstanding: a completion and an abort per live request (`maxGlobalInFlight`), a probe result per
 * node and kind, and the commands callers are awaiting. Its peak is kept for the metrics.
 */
export class EventInlet {
  /** Each ring slot's event, at `sequence & mask` as the ring indexes its records. */
  private readonly parked: (SchedulerEvent | undefined)[];
  private readonly mask: number;
  private overflow: SchedulerEvent[] = [];
  /** The most events that have waited in the overflow at once. */
  overflowPeak = 0;

  constructor(private readonly ring: RingBuffer<ControlSchema>) {
    this.mask = ring.size - 1;
    this.parked = new Array<SchedulerEvent | undefined>(ring.size);
  }

  post(evt: SchedulerEvent): void {
    if (this.overflow.length === 0) {
      const seq = this.claim();
      if (seq !== undefined) {
        this.parked[seq & this.mask] = evt;
        this.ring.publish(seq);
        return;
      }
    }
    this.overflow.push(evt);
    if (this.overflow.length > this.overflowPeak) this.overflowPeak = this.overflow.length;
  }

  /** The event published at `sequence` (once: its slot is then free). */
  take(sequence: number): SchedulerEvent {
    const i = sequence & this.mask;
    const evt = this.parked[i];
    if (evt === undefined) throw new PipelineStateError(`event inlet: no event at sequence ${sequence}`);
    this.parked[i] = undefined;
    return evt;
  }

  /** Events that found the ring full, in the order they were posted (the overflow is empty after). */
  takeOverflow(): readonly SchedulerEvent[] {
    if (this.overflow.length === 0) return NONE;
    const out = this.overflow;
    this.overflow = [];
    return out;
  }

  /** A free slot's sequence, or undefined when the ring is full. */
  private claim(): number | undefined {
    try {
      return this.ring.tryNext();
    } catch (e) {
      if (e instanceof InsufficientCapacityError) return undefined;
      throw e;
    }
  }
}

const NONE: readonly SchedulerEvent[] = Object.freeze([]);
