import { RecordLayout } from '@ollama-ring/disruptor';

/** What an OUTCOME record reports. */
export enum OutcomeKind {
  /** A request ended: `detail` is its {@link OutcomeCode}, with its timings, tokens and error code. */
  Ended = 1,
  /** A request was bound to a cold node: a model load there. */
  ColdLoad = 2,
  /** A request failed on `node` before its first byte and goes back to the queue. */
  Retried = 3,
  /** A request left the queue after `latencyMs` of waiting. */
  QueueWait = 4,
  /** A request was refused by a bound: `detail` is its {@link RejectionCode}, `code` the limit's label. */
  Rejected = 5,
  /** An upstream timeout: `detail` is its {@link PhaseCode}. */
  TimedOut = 6,
  /** `node` was suspected of hanging: `detail` is its {@link SuspicionCode}. */
  Suspected = 7,
  /** A request was switched from `model` to its fallback model (`code`): `detail` is its {@link FallbackCode}. */
  FellBack = 8,
}

/** Why a request was switched to its fallback model (`FallbackReason`), as a number. */
export enum FallbackCode {
  not_installed = 1,
  unavailable = 2,
  deadline = 3,
  budget = 4,
}

export enum SuspicionCode {
  'first-byte' = 1,
  stall = 2,
  connect = 3,
  overdue = 4,
}

/** How a request ended (`Outcome` of the scheduler), as a number. */
export enum OutcomeCode {
  success = 1,
  client_error = 2,
  upstream_error = 3,
  timeout = 4,
  aborted = 5,
  rejected = 6,
}

export enum RejectionCode {
  backpressure = 1,
  queue_full = 2,
  queue_timeout = 3,
  rate_limited = 4,
  no_node = 5,
  model_not_found = 6,
  validation = 7,
}

export enum PhaseCode {
  connect = 1,
  'first-byte' = 2,
  idle = 3,
  total = 4,
  queue = 5,
}

/**
 * The OUTCOME record: what happened to a request, small and fixed, from the scheduler to the
 * completion/metrics stage. Strings (node, model, error code) travel as ids of a {@link LabelTable}.
 */
export const outcomeSchema = {
  kind: 'int32',
  requestId: 'int32',
  /** Label id, or -1 for none. */
  node: 'int32',
  model: 'int32',
  detail: 'int32',
  /** Label id of the error code (Ended), of the limit (Rejected) or of the fallback model (FellBack); -1 for none. */
  code: 'int32',
  tokens: 'int32',
  latencyMs: 'float64',
  ttftMs: 'float64',
} as const;

export type OutcomeSchema = typeof outcomeSchema;
export const outcomeLayout = RecordLayout.define(outcomeSchema);
