import { InferenceRequest, ModelNotFoundError, RequestAbortedError, ValidationError } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

describe.each([['inline'], ['workers']] as const)('pipeline against a simulated pool, dispatch %s', (placement) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      [
        { id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 },
        { id: 'b', models: ['llama3.2', 'qwen3'], numParallel: 2 },
      ],
      (c) => {
        c.disruptor.dispatchPlacement = placement;
        // With dispatch on threads, validation and the metrics stage go to threads too: every
        // thread path is exercised.
        if (placement === 'workers') {
          c.disruptor.validationThreads = 2;
          c.disruptor.metricsPlacement = 'worker';
        }
      },
    );
  });
  afterAll(() => h.close());
  afterEach(async () => {
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
  });

  test('submit: a non-streaming generate returns the whole response', async () => {
    const res = await h.factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'Why is the sky blue?'));
    expect(res.text.length).toBeGreaterThan(0);
    expect(res.body.done).toBe(true);
    expect(['a', 'b']).toContain(res.nodeId);
  });

  test('stream: chat chunks arrive in order and end with done', async () => {
    const chunks: Record<string, unknown>[] = [];
    for await (const c of h.factory.getPipeline().stream(InferenceRequest.ofChat('llama3.2', [{ role: 'user', content: 'hi' }]))) {
      chunks.push(c);
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.at(-1)).toMatchObject({ done: true });
    expect(chunks.slice(0, -1).every((c) => c.done === false)).toBe(true);
  });

  test('embed goes only to a node that has the model', async () => {
    const res = await h.factory.getPipeline().submit(InferenceRequest.ofEmbed('nomic-embed-text', ['x', 'y']));
    expect(res.nodeId).toBe('a');
    expect((res.body.embeddings as number[][]).length).toBe(2);
  });

  test.each([
    ['unknown model', InferenceRequest.ofPrompt('nope', 'x'), ModelNotFoundError, /model 'nope' not found/],
    ['chat without model', InferenceRequest.ofChat('', []), ValidationError, /model is required/],
  ])('%s is refused with a typed error', async (_l, req, cls, msg) => {
    await expect(h.factory.getPipeline().submit(req)).rejects.toThrow(cls);
    await expect(h.factory.getPipeline().submit(req)).rejects.toThrow(msg);
  });

  test('an aborted request frees its slot', async () => {
    const ac = new AbortController();
    const p = h.factory.getPipeline().submit(InferenceRequest.ofPrompt('qwen3', 'long', { options: { num_predict: 500 } }), {
      signal: ac.signal,
    });
    await eventually(() => inFlight(h).b === 1, 5_000, 'request in flight');
    ac.abort();
    await expect(p).rejects.toThrow(RequestAbortedError);
    await eventually(() => inFlight(h).b === 0, 5_000, 'slot freed');
  });

  test('leaving a stream early aborts it upstream', async () => {
    for await (const c of h.factory.getPipeline().stream(InferenceRequest.ofPrompt('qwen3', 'x', { options: { num_predict: 400 } }))) {
      void c;
      break;
    }
    await eventually(() => inFlight(h).b === 0, 5_000, 'slot freed');
  });

  test('metrics are scraped with the configured prefix', async () => {
    const res = await h.factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'count me'));
    const text = await h.factory.getMetricsRegistry().scrape();
    // Counted by the completion/metrics stage (inline, or on its thread), gauges from the pool view:
    // one family each, whichever thread counted.
    const served = new RegExp(`ollama_lb_requests_total\\{[^}]*node="${res.nodeId}"[^}]*outcome="success"[^}]*\\} (\\d+)`);
    expect(Number(served.exec(text)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    expect(text.match(/# HELP ollama_lb_requests_total /g)).toHaveLength(1);
    expect(text).toMatch(/ollama_lb_node_max_concurrent\{node="a"\} 2/);
    expect(text).toMatch(/ollama_lb_ringbuffer_remaining \d+/);
  });
});
