import { PipelineStateError } from '../errors';
import { InsufficientCapacityError, type RingBuffer } from '@ollama-ring/disruptor';
import type { ControlSchema } from '../events';
import type { SchedulerEvent } from '../scheduler/scheduler-events';

/** Tickets are positive int32s that wrap; a ticket is taken out long before the counter comes round. */
const MAX_TICKET = 0x7fffffff;

/**
 * Puts scheduler events on the CONTROL ring, whose single batch event processor is the scheduler
 * (`stages/control.ts`): completions, aborts, commands, probe results and timer ticks all enter
 * here, in order, batched by the engine. The record carries a ticket; the event itself waits in a
 * side table under that ticket until the control stage takes it (events are small objects on the
 * main thread, where both ends live).
 *
 * Nothing is ever dropped. When the ring has no free slot (events come faster than the stage
 * drains them), an event waits in `overflow`, and every later event queues behind it there, so
 * their order holds; the control stage takes the overflow at the end of each batch. A full ring has
 * unconsumed records, so a batch end is always coming. The overflow is bounded by what can be
 * outstanding: a completion and an abort per live request (`maxGlobalInFlight`), a probe result per
 * node and kind, and the commands callers are awaiting. Its peak is kept for the metrics.
 */
export class EventInlet {
  private readonly parked = new Map<number, SchedulerEvent>();
  private overflow: SchedulerEvent[] = [];
  private nextTicket = 1;
  /** The most events that have waited in the overflow at once. */
  overflowPeak = 0;

  constructor(private readonly ring: RingBuffer<ControlSchema>) {}

  post(evt: SchedulerEvent): void {
    if (this.overflow.length === 0) {
      const seq = this.claim();
      if (seq >= 0) {
        const ticket = this.nextTicket;
        this.nextTicket = ticket >= MAX_TICKET ? 1 : ticket + 1;
        this.parked.set(ticket, evt);
        this.ring.get(seq).ticket = ticket;
        this.ring.publish(seq);
        return;
      }
    }
    this.overflow.push(evt);
    if (this.overflow.length > this.overflowPeak) this.overflowPeak = this.overflow.length;
  }

  /** The event a record's ticket stands for (once: the ticket is then free). */
  take(ticket: number): SchedulerEvent {
    const evt = this.parked.get(ticket);
    if (evt === undefined) throw new PipelineStateError(`event inlet: no event under ticket ${ticket}`);
    this.parked.delete(ticket);
    return evt;
  }

  /** Events that found the ring full, in the order they were posted (the overflow is empty after). */
  takeOverflow(): readonly SchedulerEvent[] {
    if (this.overflow.length === 0) return NONE;
    const out = this.overflow;
    this.overflow = [];
    return out;
  }

  private claim(): number {
    try {
      return this.ring.tryNext();
    } catch (e) {
      if (e instanceof InsufficientCapacityError) return -1;
      throw e;
    }
  }
}

const NONE: readonly SchedulerEvent[] = Object.freeze([]);
