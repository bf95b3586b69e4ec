/**
 * Trace context through the gateway: the client's W3C `traceparent` reaches the node with the
 * gateway's span as the parent, and the span (one per request, recorded by an in-memory exporter
 * registered as a host application would) carries the request's life as events and attributes.
 * Without an SDK the header is passed on unchanged and nothing is recorded.
 */
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { InferenceRequest } from '@ollama-ring/balancer';
import { Ollama } from 'ollama';
import { startGateway, type GatewayHarness } from './gateway-harness';
import { eventually } from '../../balancer/test/e2e/harness';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** The trace headers node `id` received on its requests to `path`. */
function received(g: GatewayHarness, id: string, path = '/api/chat'): { traceparent?: string; tracestate?: string }[] {
  return g.sim
    .node(id)
    .recentRequests()
    .filter((r) => r.path === path)
    .map((r) => ({ traceparent: r.headers.traceparent as string | undefined, tracestate: r.headers.tracestate as string | undefined }));
}

const chat = { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 2 } };

describe('with an SDK registered (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let g: GatewayHarness;
  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    g = await startGateway([
      { id: 'a', models: ['llama3.2'], numParallel: 1 },
      { id: 'b', models: ['llama3.2'], numParallel: 1 },
    ]);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await g.close();
    trace.disable();
    await provider.shutdown();
  });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === '@ollama-ring/balancer');

  test("one span per request, in the client's trace, with queue, bind, first-byte and end; the node gets the span as parent", async () => {
    const traceId = hex(16);
    const clientSpan = hex(8);
    const ollama = new Ollama({ host: g.url, headers: { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'vendor=abc' } });
    await ollama.chat(chat as Parameters<Ollama['chat']>[0] & { stream: false });
    await eventually(() => spans().length === 1, 5_000, 'the span');
    const [span] = spans();
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe(clientSpan);
    expect(span.name).toBe('ollama-ring Chat');
    expect(span.events.map((e) => e.name)).toEqual(['queue', 'bind', 'first-byte', 'end']);
    const node = span.attributes['ollama_ring.node'] as string;
    expect(['a', 'b']).toContain(node);
    expect(span.attributes).toMatchObject({
      'ollama_ring.route': 'Chat',
      'ollama_ring.model': 'llama3.2:latest',
      'ollama_ring.outcome': 'success',
      'ollama_ring.retries': 0,
      'ollama_ring.failover': false,
      'http.response.status_code': 200,
    });
    // What the node received: the same trace, the gateway's span as the parent, the client's tracestate.
    expect(received(g, node).at(-1)).toEqual({ traceparent: `00-${traceId}-${span.spanContext().spanId}-01`, tracestate: 'vendor=abc' });
  });

  test('a failover shows as a retry event and attributes, and both nodes get the trace', async () => {
    g.sim.node('a').setFaults({ failNext: { count: 1, status: 500, message: 'boom', paths: ['/api/chat'] } });
    g.sim.node('b').setFaults({ failNext: { count: 1, status: 500, message: 'boom', paths: ['/api/chat'] } });
    const traceId = hex(16);
    const before = { a: received(g, 'a').length, b: received(g, 'b').length };
    const ollama = new Ollama({ host: g.url, headers: { traceparent: `00-${traceId}-${hex(8)}-01` } });
    await ollama.chat(chat as Parameters<Ollama['chat']>[0] & { stream: false });
    await eventually(() => spans().length === 1, 5_000, 'the span');
    const [span] = spans();
    expect(span.events.map((e) => e.name)).toEqual(['queue', 'bind', 'retry', 'queue', 'bind', 'retry', 'queue', 'bind', 'first-byte', 'end']);
    expect(span.attributes).toMatchObject({ 'ollama_ring.retries': 2, 'ollama_ring.failover': true, 'ollama_ring.outcome': 'success' });
    const sent = [...received(g, 'a').slice(before.a), ...received(g, 'b').slice(before.b)];
    expect(sent).toHaveLength(3);
    for (const h of sent) expect(h.traceparent).toBe(`00-${traceId}-${span.spanContext().spanId}-01`);
  });

  test('the library: a request without a traceparent is a child of the traceContext given, and an error ends the span as one', async () => {
    const parent = trace.getTracer('host-app').startSpan('host operation');
    const pipeline = g.factory.getPipeline();
    await pipeline.submit(InferenceRequest.ofChat('llama3.2', [{ role: 'user', content: 'x' }]), { traceContext: trace.setSpan(ROOT_CONTEXT, parent) });
    await expect(pipeline.submit(InferenceRequest.ofPrompt('nope', 'x'))).rejects.toMatchObject({ status: 404 });
    parent.end();
    await eventually(() => spans().length === 2, 5_000, 'the spans');
    const [ok, missing] = spans();
    expect(ok.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(ok.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(missing.parentSpanContext).toBeUndefined();
    expect(missing.attributes).toMatchObject({ 'ollama_ring.outcome': 'client_error', 'http.response.status_code': 404, 'error.type': 'ERR_MODEL_NOT_FOUND' });
    expect(missing.events.map((e) => e.name)).toEqual(['end']);
  });
});

describe('without an SDK', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'], numParallel: 1 }]);
  });
  afterAll(() => g.close());

  test("the client's traceparent and tracestate reach the node unchanged; a request without one adds none, and a malformed one is dropped", async () => {
    const tp = `00-${hex(16)}-${hex(8)}-01`;
    await new Ollama({ host: g.url, headers: { traceparent: tp, tracestate: 'a=1,b=2' } }).chat(chat as Parameters<Ollama['chat']>[0] & { stream: false });
    await new Ollama({ host: g.url }).chat(chat as Parameters<Ollama['chat']>[0] & { stream: false });
    await new Ollama({ host: g.url, headers: { traceparent: '00-not-a-trace-01' } }).chat(chat as Parameters<Ollama['chat']>[0] & { stream: false });
    expect(received(g, 'a').slice(-3)).toEqual([{ traceparent: tp, tracestate: 'a=1,b=2' }, {}, {}]);
  });

  test('dispatch threads (disruptor.dispatchPlacement: workers) pass it on too', async () => {
    const w = await startGateway([{ id: 'w', models: ['llama3.2'], numParallel: 1 }], (c) => {
      c.disruptor.dispatchPlacement = 'workers';
      c.disruptor.dispatchThreads = 1;
    });
    try {
      const tp = `00-${hex(16)}-${hex(8)}-00`;
      await new Ollama({ host: w.url, headers: { traceparent: tp } }).chat(chat as Parameters<Ollama['chat']>[0] & { stream: false });
      expect(received(w, 'w').at(-1)).toEqual({ traceparent: tp });
    } finally {
      await w.close();
    }
  });
});
