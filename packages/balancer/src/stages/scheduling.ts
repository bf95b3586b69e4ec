import type { ByteArena, EventHandler, EventView } from '@ollama-ring/disruptor';
import type { IngressSchema } from '../events';
import type { RequestTable } from '../request-context';
import type { SchedulerPort } from '../scheduler/pool-state';
import type { RequestFacts, RequestRejection } from './request-facts';
import { FACTS_IN_MEMORY, type VerdictHandover } from './validation';

/**
 * The scheduler's stage on the INGRESS ring, its last batch event processor: for each validated
 * request it copies what it needs out of the slot (the slot is released when this batch ends, and
 * must never be read after) and hands the verdict to the scheduler as a `request-validated` event.
 * At the end of each batch the scheduler applies them, in ring order, and runs one scheduling pass.
 */
export class SchedulingHandler implements EventHandler<IngressSchema> {
  constructor(
    private readonly arena: ByteArena,
    private readonly table: RequestTable,
    private readonly scheduler: SchedulerPort,
    private readonly handover?: VerdictHandover,
  ) {}

  onEvent(e: EventView<IngressSchema>, _seq: number, endOfBatch: boolean): void {
    this.onRequest(e);
    if (endOfBatch) this.scheduler.drain();
  }

  private onRequest(e: EventView<IngressSchema>): void {
    const ctx = this.table.get(e.requestId);
    let verdict: RequestFacts | RequestRejection;
    const handed = e.factsOffset === FACTS_IN_MEMORY ? this.handover?.get(e.requestId) : undefined;
    if (handed !== undefined) {
      this.handover!.delete(e.requestId);
      verdict = handed;
    } else if (e.factsOffset < 0) verdict = { status: e.status || 503, message: 'server busy: no room to validate the request' };
    else {
      verdict = JSON.parse(Buffer.from(this.arena.view(e.factsOffset, e.factsLength)).toString('utf8')) as RequestFacts | RequestRejection;
      this.arena.free(e.factsOffset);
    }
    // A request aborted while in the ring is already gone from the table; its facts are freed above.
    if (ctx) this.scheduler.accept({ type: 'request-validated', requestId: e.requestId, verdict });
  }
}
