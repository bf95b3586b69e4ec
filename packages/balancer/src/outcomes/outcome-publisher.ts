import { InsufficientCapacityError, type RingBuffer } from '@ollama-ring/disruptor';
import type { RequestEnd, SchedulerObserver } from '../scheduler/observer';
import type { LabelTable } from './label-table';
import { FallbackCode, OutcomeCode, OutcomeKind, type OutcomeSchema, PhaseCode, RejectionCode, SuspicionCode } from './outcome-record';

/**
 * The scheduler's side of the completion/metrics stage: what it reports (a request ended, a cold
 * load, a retry, a queue wait, a refusal, a timeout) becomes one OUTCOME record on the outcome
 * ring, and the scheduler goes on; the stage turns records into metrics after the scheduler's batch.
 *
 * A full ring (more than its size reported in one synchronous run of the scheduler) loses the
 * record, never blocks the scheduler: `dropped` counts them, and the metrics show the count.
 */
export class OutcomePublisher implements SchedulerObserver {
  /** Records lost to a full outcome ring. */
  dropped = 0;

  constructor(
    private readonly ring: RingBuffer<OutcomeSchema>,
    private readonly labels: LabelTable,
  ) {}

  requestEnded(e: RequestEnd): void {
    this.write(OutcomeKind.Ended, e.requestId, e.nodeId, e.model, OutcomeCode[e.outcome], e.errorCode, e.evalTokens, e.latencyMs, e.ttftMs);
  }

  coldLoad(nodeId: string, model: string): void {
    this.write(OutcomeKind.ColdLoad, 0, nodeId, model, 0, undefined, 0, 0, 0);
  }

  fellBack(e: { model: string; fallback: string; reason: keyof typeof FallbackCode }): void {
    this.write(OutcomeKind.FellBack, 0, undefined, e.model, FallbackCode[e.reason], e.fallback, 0, 0, 0);
  }

  retry(nodeId: string): void {
    this.write(OutcomeKind.Retried, 0, nodeId, undefined, 0, undefined, 0, 0, 0);
  }

  queueWait(ms: number): void {
    this.write(OutcomeKind.QueueWait, 0, undefined, undefined, 0, undefined, 0, ms, 0);
  }

  rejected(kind: keyof typeof RejectionCode, detail?: string): void {
    this.write(OutcomeKind.Rejected, 0, undefined, undefined, RejectionCode[kind], kind === 'rate_limited' ? detail : undefined, 0, 0, 0);
  }

  timeout(phase: keyof typeof PhaseCode): void {
    this.write(OutcomeKind.TimedOut, 0, undefined, undefined, PhaseCode[phase], undefined, 0, 0, 0);
  }

  suspected(nodeId: string, cause: keyof typeof SuspicionCode): void {
    this.write(OutcomeKind.Suspected, 0, nodeId, undefined, SuspicionCode[cause], undefined, 0, 0, 0);
  }

  /** Claims a slot and writes one record, every field; a full ring loses it (counted). */
  private write(
    kind: OutcomeKind,
    requestId: number,
    node: string | undefined,
    model: string | undefined,
    detail: number,
    code: string | undefined,
    tokens: number,
    latencyMs: number,
    ttftMs: number,
  ): void {
    let seq: number;
    try {
      seq = this.ring.tryNext();
    } catch (e) {
      if (!(e instanceof InsufficientCapacityError)) throw e;
      this.dropped++;
      return;
    }
    const v = this.ring.get(seq);
    v.kind = kind;
    v.requestId = requestId;
    v.node = this.labels.id(node);
    v.model = this.labels.id(model);
    v.detail = detail;
    v.code = this.labels.id(code);
    v.tokens = tokens;
    v.latencyMs = latencyMs;
    v.ttftMs = ttftMs;
    this.ring.publish(seq);
  }
}
