/**
 * W3C Trace Context (`traceparent`, `tracestate`) as the gateway reads it from a client and writes
 * it to a node. Parsed and written here, not through the global propagator of
 * `@opentelemetry/api`: that one is a no-op until a host registers one, and the header must reach
 * the node whether or not a host did.
 */
import { type SpanContext, TraceFlags, createTraceState } from '@opentelemetry/api';

/**
 * The two headers, as sent on the wire.
 *
 * @example const h: TraceHeaders = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
 */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

// version 00; other versions are read by their first four fields (the spec's forward compatibility).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
/** The spec's bound on `tracestate`: 32 members; a longer header is dropped rather than cut. */
const MAX_TRACESTATE = 512;

/**
 * The span context a `traceparent` header names (remote), or undefined for a malformed one (the
 * spec: a request with an invalid `traceparent` starts a new trace).
 *
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.traceId; // '4bf92f3577b34da6a3ce929d0e0e4736'
 */
export function parseTraceparent(traceparent: string, tracestate?: string): SpanContext | undefined {
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const state = tracestate && tracestate.length <= MAX_TRACESTATE ? createTraceState(tracestate) : undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true, ...(state && { traceState: state }) };
}

/**
 * The headers that carry `ctx` to the next hop.
 *
 * @example traceHeadersOf(span.spanContext()).traceparent; // '00-<trace-id>-<span-id>-01'
 */
export function traceHeadersOf(ctx: SpanContext): TraceHeaders {
  const flags = (ctx.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  const traceparent = `00-${ctx.traceId}-${ctx.spanId}-${flags}`;
  const state = ctx.traceState?.serialize();
  return state ? { traceparent, tracestate: state } : { traceparent };
}
