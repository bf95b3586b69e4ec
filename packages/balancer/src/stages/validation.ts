import type { ByteArena, EventView, WorkHandler } from '@ollama-ring/disruptor';
import { ARENA_FULL } from '@ollama-ring/disruptor';
import type { IngressSchema, Route } from '../events';
import type { ValidationLimits } from './request-facts';
import { isRejection, validateRequest } from './validate-request';

const encoder = new TextEncoder();

/**
 * The validation stage: reads the body from the arena, checks it, and writes the verdict into the
 * record — `status` 200 with the routing facts, or the HTTP status of the rejection — and the facts
 * (or the rejection's message) as JSON into the arena. A work-pool member: run several, inline or
 * on threads, and each request is validated once.
 */
export class ValidationHandler implements WorkHandler<IngressSchema> {
  constructor(
    private readonly arena: ByteArena,
    private readonly limits: ValidationLimits,
  ) {}

  onEvent(e: EventView<IngressSchema>): void {
    const body = this.arena.view(e.bodyOffset, e.bodyLength);
    const verdict = validateRequest(e.route as Route, body, this.limits);
    const out = encoder.encode(JSON.stringify(verdict));
    const off = this.arena.tryAllocCopy(out);
    if (off === ARENA_FULL) {
      // No room for the verdict: the request cannot proceed, say so as a busy server would.
      e.status = 503;
      e.factsOffset = -1;
      e.factsLength = 0;
      return;
    }
    e.factsOffset = off;
    e.factsLength = out.length;
    e.status = isRejection(verdict) ? verdict.status : 200;
  }
}
