/**
 * One span per request, through `@opentelemetry/api`: a no-op unless the host application
 * registers an SDK. The span starts when the pipeline admits the request, in the caller's trace (a
 * W3C `traceparent` the gateway got from its client, or the library caller's active context), and
 * records the request's life as events: `queue` (each stay in the wait queue), `bind` (the node
 * chosen), `retry`, `first-byte`, `end`. The node is sent the span as the parent of its own work.
 *
 * Cost when no SDK is registered: a request without a `traceparent` gets no trace at all
 * (`startRequestTrace` returns undefined after one look at the global provider), and every hook is
 * `ctx.trace?.…`, so nothing is allocated. A request with a `traceparent` but no SDK passes the
 * client's header on to the node unchanged (the gateway is then transparent to the trace).
 */
import { type Attributes, type Context, context, ProxyTracerProvider, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Route } from '@ollama-ring/protocol';
import type { BalancerError } from '../errors';
import { parseTraceparent, type TraceHeaders, traceHeadersOf } from './trace-context';

/** The name the library's tracer is registered under. */
export const TRACER_NAME = '@ollama-ring/balancer';

/** Where a request's trace comes from (the gateway's client headers, or a library caller's context). */
export interface TraceParent {
  /** A W3C `traceparent` header: the span is its child, in its trace. */
  traceparent?: string;
  tracestate?: string;
  /** The parent context when there is no `traceparent`; default: the active context. */
  traceContext?: Context;
}

/** The API's own no-op provider, which a `ProxyTracerProvider` delegates to until an SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered (an SDK): otherwise every span would be a no-op.
 *
 * @example if (tracingEnabled()) console.log('spans are recorded');
 */
export function tracingEnabled(): boolean {
  const p = trace.getTracerProvider();
  if (!(p instanceof ProxyTracerProvider)) return true; // another copy of the API: assume an SDK
  const d = p.getDelegate();
  return d !== NOOP_PROVIDER && d.constructor.name !== 'NoopTracerProvider';
}

/**
 * The trace of one request, or undefined when there is none to keep (no SDK and no `traceparent`).
 *
 * @example ctx.trace = startRequestTrace(Route.Chat, { traceparent: req.headers.traceparent });
 */
export function startRequestTrace(route: Route, parent: TraceParent | undefined): RequestTrace | undefined {
  const header = parent?.traceparent;
  if (header === undefined && !tracingEnabled()) return undefined;
  const remote = header !== undefined ? parseTraceparent(header, parent?.tracestate) : undefined;
  if (!tracingEnabled()) return remote ? new RequestTrace(undefined, traceHeadersOf(remote)) : undefined;
  const parentCtx = remote ? trace.setSpanContext(ROOT_CONTEXT, remote) : (parent?.traceContext ?? context.active());
  const name = Route[route];
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(`ollama-ring ${name}`, { kind: remote ? SpanKind.SERVER : SpanKind.INTERNAL, attributes: { 'ollama_ring.route': name } }, parentCtx);
  return new RequestTrace(span, undefined);
}

/** What the span's end records. */
export interface TraceEnd {
  outcome: string;
  model: string;
  nodeId: string | undefined;
  retries: number;
  /** Served (or ended) after a node failed it before its first byte. */
  failover: boolean;
  queueMs: number;
  /** The HTTP status the client is answered with. */
  status: number;
  error?: BalancerError;
}

/**
 * The span of one request (or, without an SDK, only the client's trace context to pass on).
 * The scheduler calls its hooks as the request moves; every one is cheap and none throws.
 */
export class RequestTrace {
  private ended = false;

  constructor(
    /** The request's span; undefined without an SDK. */
    readonly span: Span | undefined,
    private headers: TraceHeaders | undefined,
  ) {}

  /** The headers the node gets: this span as the parent (or the client's own context, passed on). */
  upstreamHeaders(): TraceHeaders {
    return (this.headers ??= traceHeadersOf(this.span!.spanContext()));
  }

  /** It entered the wait queue (`retry`: again, after a failed attempt). */
  queued(retry: boolean): void {
    this.span?.addEvent('queue', { retry });
  }

  /** It was bound to `nodeId` by `strategy`; `cold`: the model was not loaded there. */
  bound(nodeId: string, strategy: string, cold: boolean): void {
    if (!this.span) return;
    this.span.setAttribute('ollama_ring.node', nodeId);
    this.span.addEvent('bind', { 'ollama_ring.node': nodeId, 'ollama_ring.strategy': strategy, 'ollama_ring.cold': cold });
  }

  /** An attempt on `nodeId` failed before any byte reached the client; it goes again. */
  retried(nodeId: string, reason: string): void {
    this.span?.addEvent('retry', { 'ollama_ring.node': nodeId, 'ollama_ring.reason': reason });
  }

  /** The first byte of the answer is on its way to the client. */
  firstByte(status: number): void {
    this.span?.addEvent('first-byte', { 'http.response.status_code': status });
  }

  /** The request ended (once): attributes, the `end` event, the status, and the span's end. */
  end(e: TraceEnd): void {
    const span = this.span;
    if (!span || this.ended) return;
    this.ended = true;
    const attrs: Attributes = {
      'ollama_ring.outcome': e.outcome,
      'ollama_ring.model': e.model,
      'ollama_ring.retries': e.retries,
      'ollama_ring.failover': e.failover,
      'ollama_ring.queue_ms': Math.round(e.queueMs),
      'http.response.status_code': e.status,
    };
    if (e.nodeId) attrs['ollama_ring.node'] = e.nodeId;
    if (e.error) attrs['error.type'] = e.error.code;
    span.setAttributes(attrs);
    span.addEvent('end', { 'ollama_ring.outcome': e.outcome });
    if (e.error && e.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
    span.end();
  }
}
