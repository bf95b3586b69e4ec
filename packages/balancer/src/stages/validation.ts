import type { ByteArena, EventView, WorkHandler } from '@ollama-ring/disruptor';
import { ARENA_FULL } from '@ollama-ring/disruptor';
import type { Route } from '@ollama-ring/protocol';
import type { IngressSchema } from '../events';
import type { RequestFacts, RequestRejection, ValidationLimits } from './request-facts';
import { isRejection, validateRequest } from './validate-request';

/** `factsOffset` when the verdict was handed over in memory (inline validation), not in the arena. */
export const FACTS_IN_MEMORY = -2;

/** Verdicts of inline validation, by request id, until the scheduling stage takes them. */
export type VerdictHandover = Map<number, RequestFacts | RequestRejection>;

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
    /**
     * Inline only (same thread as the scheduling stage): verdicts go here as they are, sparing a
     * JSON round trip through the arena. Worker-thread validators leave it out.
     */
    private readonly handover?: VerdictHandover,
  ) {}

  onEvent(e: EventView<IngressSchema>): void {
    const body = this.arena.view(e.bodyOffset, e.bodyLength);
    const verdict = validateRequest(e.route as Route, body, this.limits);
    if (this.handover) {
      this.handover.set(e.requestId, verdict);
      e.factsOffset = FACTS_IN_MEMORY;
      e.factsLength = 0;
      e.status = isRejection(verdict) ? verdict.status : 200;
      return;
    }
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
