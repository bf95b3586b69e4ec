import type { EventHandler, EventView } from '@ollama-ring/disruptor';
import type { ControlSchema } from '../events';
import type { SchedulerPort } from '../scheduler/pool-state';
import type { EventInlet } from './event-inlet';

/**
 * The scheduler's stage on the CONTROL ring, its single batch event processor: it hands each
 * record's event (taken from the inlet by the record's sequence) to the scheduler, and at the end of the batch
 * the events that found the ring full, then has the scheduler apply them all, in order, and run one
 * scheduling pass.
 */
export class ControlHandler implements EventHandler<ControlSchema> {
  constructor(
    private readonly scheduler: SchedulerPort,
    private readonly inlet: EventInlet,
  ) {}

  onEvent(_e: EventView<ControlSchema>, sequence: number, endOfBatch: boolean): void {
    this.scheduler.accept(this.inlet.take(sequence));
    if (endOfBatch) {
      // Events that found the ring full come after everything that was in it when they were posted.
      for (const evt of this.inlet.takeOverflow()) this.scheduler.accept(evt);
      this.scheduler.drain();
    }
  }
}
