import { RecordLayout } from '@ollama-ring/disruptor';

/**
 * The INGRESS record: small and fixed. A request's body travels in the byte arena (`body*` is its
 * reference); validation writes the routing facts back into the arena (`facts*`) and its verdict
 * into `status`. Nothing here is read after the scheduler's pass: what lives longer is copied into
 * the request table, keyed by `requestId`.
 */
export const ingressSchema = {
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

/**
 * The CONTROL record of one scheduler event (a completion, an abort, a command, a probe result, a
 * timer tick). The event itself waits in the event inlet's side array at the record's index, so
 * the record holds nothing; the engine's records need one field, which stays unwritten.
 */
export const controlSchema = {
  reserved: 'int32',
} as const;

export type ControlSchema = typeof controlSchema;
export const controlLayout = RecordLayout.define(controlSchema);
