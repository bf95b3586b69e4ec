import { InferenceRequest, type StrategyName } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

/**
 * `max_latency` (a latency budget) against emulated nodes of two speeds: the slow node makes its
 * first token wait about 250 ms (one token every 5 simulated seconds at time scale 0.05), the fast
 * one answers in a few ms. Once the balancer has learned both, a request with a 150 ms budget is
 * kept off the slow node under every strategy, and served by it when it is the only one left.
 */

const BUDGET_MS = 150;

async function drain(it: AsyncIterable<Record<string, unknown>>): Promise<number> {
  let n = 0;
  for await (const c of it) if (c) n++;
  return n;
}

/** A two-token answer: about 500 ms whole on the slow node, a few ms on the fast one. */
const ask = (hints: { tags?: string[]; latencyBudgetMs?: number; strategy?: string } = {}, stream = false) =>
  InferenceRequest.ofPrompt('llama3.2', 'hello there', { stream, options: { num_predict: 2 } }, hints);

/** Which node served `req` (a non-streamed answer: the budget bounds the whole of it). */
async function servedBy(h: Harness, req: InferenceRequest): Promise<string> {
  return (await h.factory.getPipeline().submit(req)).nodeId;
}

describe('a latency budget keeps requests off a node predicted to miss it', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      [
        { id: 'fast', models: ['llama3.2'], numParallel: 4, preload: ['llama3.2'] },
        { id: 'slow', models: ['llama3.2'], numParallel: 4, preload: ['llama3.2'], tokensPerSec: 0.2 },
      ],
      (c) => {
        c.nodes[0].tags = ['fast'];
        c.nodes[1].tags = ['slow'];
        c.healthCheck.intervalMs = 600_000;
        c.healthCheck.discoveryIntervalMs = 600_000;
      },
      { timeScale: 0.05 },
    );
    // Each node serves a few requests, pinned by tag, so the estimates know both speeds.
    const p = h.factory.getPipeline();
    for (const tag of ['fast', 'slow']) {
      for (let i = 0; i < 2; i++) await drain(p.stream(ask({ tags: [tag] }, true)));
      for (let i = 0; i < 2; i++) await p.submit(ask({ tags: [tag] }));
    }
  });
  afterAll(() => h.close());
  afterEach(async () => {
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
  });

  test('without a budget the strategy uses both nodes (round-robin)', async () => {
    const nodes = new Set<string>();
    for (let i = 0; i < 4; i++) nodes.add(await servedBy(h, ask({ strategy: 'round-robin' })));
    expect([...nodes].sort()).toEqual(['fast', 'slow']);
  });

  test.each<StrategyName>(['round-robin', 'random', 'least-in-flight', 'weighted-round-robin', 'predictive', 'hybrid'])(
    '%s: with the budget, only the fast node',
    async (strategy) => {
      const nodes: string[] = [];
      for (let i = 0; i < 4; i++) nodes.push(await servedBy(h, ask({ strategy, latencyBudgetMs: BUDGET_MS })));
      expect(nodes).toEqual(['fast', 'fast', 'fast', 'fast']);
    },
  );

  test('the body field max_latency does the same', async () => {
    const req = new InferenceRequest(ask().route, { ...ask().body, max_latency: BUDGET_MS }, { strategy: 'round-robin' });
    const nodes: string[] = [];
    for (let i = 0; i < 4; i++) nodes.push(await servedBy(h, req));
    expect(nodes).toEqual(['fast', 'fast', 'fast', 'fast']);
  });

  test('when the slow node is the only one, it serves the request', async () => {
    await h.factory.getControlPlane().nodeAction('fast', 'disable');
    try {
      expect(await servedBy(h, ask({ latencyBudgetMs: BUDGET_MS }))).toBe('slow');
    } finally {
      await h.factory.getControlPlane().nodeAction('fast', 'enable');
    }
  });
});
