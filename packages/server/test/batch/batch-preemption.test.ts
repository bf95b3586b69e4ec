import { InferenceRequest } from '@ollama-ring/balancer';
import { BatchRunner, type BatchLine, type LineResult } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from '../../../balancer/test/e2e/harness';

/**
 * Preemption end to end, against an emulated node: an interactive request that arrives while batch
 * lines hold every slot is served at once (a line is cut for it), and every line of the batch is
 * still answered exactly once.
 */
describe('batch lines give way to an interactive request', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'], numParallel: 2 }]);
  });
  afterAll(() => h.close());

  test('the interactive request waits for no line to end; every line is answered once', async () => {
    // Long lines: at this slowdown each takes seconds, the interactive request (two tokens) far less.
    h.sim.node('a').setFaults({ slowdown: 20 });
    const lines: BatchLine[] = Array.from({ length: 4 }, (_, i) => ({
      custom_id: `l${i}`,
      method: 'POST',
      url: '/api/chat',
      body: { model: 'llama3.2', messages: [{ role: 'user', content: `tell me about ${i}` }], options: { num_predict: 60 } },
    }));
    const results: LineResult[] = [];
    const lineEnds: number[] = [];
    const started = Date.now();
    const batch = new BatchRunner(h.factory.getPipeline(), { concurrency: 2 }).run(lines, (r) => {
      results.push(r);
      lineEnds.push(Date.now());
    });
    await eventually(() => (inFlight(h).a ?? 0) === 2, 10_000, 'the lines to hold both slots');
    const sent = Date.now();
    const answer = await h.factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'hi', { options: { num_predict: 2 } }));
    const answered = Date.now();
    expect(answer.body.done).toBe(true);
    await batch;
    h.sim.node('a').clearFaults();
    // Answered before any line that held a slot when it came had ended: it took a cut line's slot.
    expect(lineEnds.filter((t) => t < answered)).toEqual([]);
    expect(answer.queueMs).toBeLessThan(Math.min(...lineEnds) - started);
    expect(answered - sent).toBeLessThan(Math.min(...lineEnds) - started);
    expect(results.map((r) => [r.custom_id, r.status]).sort()).toEqual(lines.map((l) => [l.custom_id, 200]));
    expect(h.factory.getPoolView().classes.preempted).toBeGreaterThanOrEqual(1);
    await eventually(() => (inFlight(h).a ?? 0) === 0 && h.factory.getPoolView().live === 0, 5_000, 'nothing in flight');
  });
});
