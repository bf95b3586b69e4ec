import { InsufficientCapacityError, type RingBuffer } from '@ollama-ring/disruptor';
import type { RequestEnd, SchedulerObserver } from '../scheduler/observer';
import type { LabelTable } from './label-table';
import { OutcomeCode, OutcomeKind, type OutcomeSchema, PhaseCode, RejectionCode } from './outcome-record';

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
    const r = this.claim();
    if (r === undefined) return;
    const [seq, v] = r;
    v.kind = OutcomeKind.Ended;
    v.requestId = e.requestId;
    v.node = this.labels.id(e.nodeId);
    v.model = this.labels.id(e.model);
    v.detail = OutcomeCode[e.outcome];
    v.code = this.labels.id(e.errorCode);
    v.tokens = e.evalTokens;
    v.latencyMs = e.latencyMs;
    v.ttftMs = e.ttftMs;
    this.ring.publish(seq);
  }

  coldLoad(nodeId: string, model: string): void {
    this.small(OutcomeKind.ColdLoad, nodeId, model, 0, undefined, 0);
  }

  retry(nodeId: string): void {
    this.small(OutcomeKind.Retried, nodeId, undefined, 0, undefined, 0);
  }

  queueWait(ms: number): void {
    this.small(OutcomeKind.QueueWait, undefined, undefined, 0, undefined, ms);
  }

  rejected(kind: keyof typeof RejectionCode, detail?: string): void {
    this.small(OutcomeKind.Rejected, undefined, undefined, RejectionCode[kind], kind === 'rate_limited' ? detail : undefined, 0);
  }

  timeout(phase: keyof typeof PhaseCode): void {
    this.small(OutcomeKind.TimedOut, undefined, undefined, PhaseCode[phase], undefined, 0);
  }

  private small(kind: OutcomeKind, node: string | undefined, model: string | undefined, detail: number, code: string | undefined, ms: number): void {
    const r = this.claim();
    if (r === undefined) return;
    const [seq, v] = r;
    v.kind = kind;
    v.requestId = 0;
    v.node = this.labels.id(node);
    v.model = this.labels.id(model);
    v.detail = detail;
    v.code = this.labels.id(code);
    v.tokens = 0;
    v.latencyMs = ms;
    v.ttftMs = 0;
    this.ring.publish(seq);
  }

  private claim(): [number, ReturnType<RingBuffer<OutcomeSchema>['get']>] | undefined {
    let seq: number;
    try {
      seq = this.ring.tryNext();
    } catch (e) {
      if (!(e instanceof InsufficientCapacityError)) throw e;
      this.dropped++;
      return undefined;
    }
    return [seq, this.ring.get(seq)];
  }
}
