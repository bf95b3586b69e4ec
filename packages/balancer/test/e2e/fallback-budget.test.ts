import { InferenceRequest } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

/**
 * A latency budget no node of the model can meet, with a fallback model whose node can: the request
 * is served by the fallback (through the library: `fallbackFrom` says so), and counted. The slow
 * node makes a two-token answer take about 500 ms (time scale 0.05, one token every 5 simulated s).
 */

const ask = (model: string, extra: Record<string, unknown> = {}) => InferenceRequest.ofPrompt(model, 'hello there', { stream: false, options: { num_predict: 2 }, ...extra });

async function fallbacks(h: Harness, reason: string): Promise<number> {
  const text = await h.factory.getMetricsRegistry().scrape();
  const line = text.split('\n').find((l) => l.startsWith('ollama_lb_fallbacks_total{') && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The count reaches `n` (the metrics thread counts a moment after the scheduler wrote the record). */
async function expectFallbacks(h: Harness, reason: string, n: number): Promise<void> {
  const end = Date.now() + 5_000;
  let seen = await fallbacks(h, reason);
  while (seen !== n && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    seen = await fallbacks(h, reason);
  }
  expect(seen).toBe(n);
}

describe.each(['inline', 'worker'] as const)('fallback_model when the latency budget cannot be met (metrics stage %s)', (metricsPlacement) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      [
        { id: 'slow', models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'], tokensPerSec: 0.2 },
        { id: 'other', models: ['qwen3'], numParallel: 2, preload: ['qwen3'] },
      ],
      (c) => {
        c.healthCheck.intervalMs = 600_000;
        c.healthCheck.discoveryIntervalMs = 600_000;
        // The switch's OUTCOME record is counted on the main thread or on the metrics thread alike.
        c.disruptor.metricsPlacement = metricsPlacement;
      },
      { timeScale: 0.05 },
    );
    const p = h.factory.getPipeline();
    for (const model of ['llama3.2', 'qwen3']) for (let i = 0; i < 2; i++) await p.submit(ask(model));
  });
  afterAll(() => h.close());
  afterEach(async () => {
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
  });

  test('with a budget only the fallback meets: served by the fallback, which the response names', async () => {
    const res = await h.factory.getPipeline().submit(ask('llama3.2', { fallback_model: 'qwen3', max_latency: 150 }));
    expect(res.nodeId).toBe('other');
    expect(res.body.model).toBe('qwen3');
    expect(res.fallbackFrom).toBe('llama3.2');
    await expectFallbacks(h, 'budget', 1);
  });

  test('the budget as a hint, the fallback as a hint: the same', async () => {
    const res = await h.factory.getPipeline().submit(ask('llama3.2').withHints({ fallbackModel: 'qwen3', latencyBudgetMs: 150 }));
    expect(res.nodeId).toBe('other');
    expect(res.fallbackFrom).toBe('llama3.2');
    await expectFallbacks(h, 'budget', 2);
  });

  test('with a budget the slow node meets, or none: served by the model asked for', async () => {
    for (const extra of [{ max_latency: 60_000 }, {}]) {
      const res = await h.factory.getPipeline().submit(ask('llama3.2', { fallback_model: 'qwen3', ...extra }));
      expect(res.nodeId).toBe('slow');
      expect(res.body.model).toBe('llama3.2');
      expect(res.fallbackFrom).toBeUndefined();
    }
    await expectFallbacks(h, 'budget', 2);
  });
});
