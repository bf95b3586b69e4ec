import { RecordLayout } from '@ollama-ring/disruptor';

/** What an INGRESS record carries (its `kind`). */
export enum IngressKind {
  /** A request from the front: validation checks it, the scheduling stage admits it. */
  Request = 0,
  /**
   * A scheduler event (a completion, an abort, a command, a probe result, a timer tick): validation
   * passes it by, and the scheduling stage hands it to the scheduler in ring order with the requests.
   * `requestId` is then the event's ticket in the event inlet's side table.
   */
  SchedulerEvent = 1,
}

/**
 * The INGRESS record: small and fixed. A request's body travels in the byte arena (`body*` is its
 * reference); validation writes the routing facts back into the arena (`facts*`) and its verdict
 * into `status`. Nothing here is read after the scheduler's pass: what lives longer is copied into
 * the request table, keyed by `requestId`. A scheduler event uses `kind` and `requestId` only.
 */
export const ingressSchema = {
  kind: 'int32',
  requestId: 'int32',
  route: 'int32',
  bodyOffset: 'int32',
  bodyLength: 'int32',
  factsOffset: 'int32',
  factsLength: 'int32',
  /** 0 until validated; 200 when valid; otherwise the HTTP status of the validation error. */
  status: 'int32',
} as const;

export type IngressSchema = typeof ingressSchema;
export const ingressLayout = RecordLayout.define(ingressSchema);
