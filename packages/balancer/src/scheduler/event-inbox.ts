import type { SchedulerEvent } from './scheduler-events';

/**
 * The scheduler's inbox: events queued in order and applied as one batch, after which the scheduler
 * runs one scheduling pass. A batch is applied once the current task's synchronous work is done (a
 * microtask), so that events posted together are applied together. Not a loop turn later: a
 * completion frees its slot, and ends the client's response, before any other socket is read — on
 * a busy loop a turn is milliseconds, and a client's next request would find its own last one
 * still counted.
 */
export class EventInbox {
  private readonly events: SchedulerEvent[] = [];
  private scheduled = false;
  private applying = false;

  constructor(
    /** Applies one event. */
    private readonly apply: (evt: SchedulerEvent) => void,
    /** Runs after a batch was applied (the scheduling pass). */
    private readonly afterBatch: () => void,
  ) {}

  /** Queues an event and schedules the batch's drain. */
  post(evt: SchedulerEvent): void {
    this.events.push(evt);
    if (!this.scheduled) {
      this.scheduled = true;
      // A promise job rather than queueMicrotask: the same microtask, but one that fake timers
      // (jest's included) leave real, so tests still see events applied when the code would.
      void Promise.resolve().then(this.drainNow);
    }
  }

  private readonly drainNow = (): void => this.drain();

  /** Queues an event without scheduling a drain: the ring's scheduling stage drains at the end of its batch. */
  accept(evt: SchedulerEvent): void {
    this.events.push(evt);
  }

  /** Applies every queued event now, then the pass. */
  drain(): void {
    this.scheduled = false;
    if (this.applying) return;
    this.applying = true;
    // An index walk, not shift(): a batch of thousands stays linear. Events posted while applying
    // (a handler's own) land at the end and are applied in this same batch.
    let i = 0;
    try {
      for (; i < this.events.length; i++) this.apply(this.events[i]);
    } finally {
      // Applied events go, and so does one that threw (it must not be applied twice).
      this.events.splice(0, i + 1);
      this.applying = false;
    }
    this.afterBatch();
  }
}
