import { InferenceRequest, type RequestEnd } from '@ollama-ring/balancer';
import { startHarness } from './harness';

describe('PipelineFactory.observe', () => {
  test('an observer subscribed while the pipeline runs hears each request end until it unsubscribes; one that throws breaks nothing', async () => {
    const h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 2 }]);
    try {
      const submit = () => h.factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'hi'));
      await submit(); // before anyone listens
      const ends: RequestEnd[] = [];
      const off = h.factory.observe({ requestEnded: (e) => ends.push(e) });
      const offThrowing = h.factory.observe({
        requestEnded: () => {
          throw new Error('observer bug');
        },
      });
      // The throwing one is reported as a process warning; the requests and the other observer carry on.
      const answers = await Promise.all([submit(), submit(), submit()]);
      expect(answers.every((r) => r.nodeId === 'a')).toBe(true);
      expect(ends).toHaveLength(3);
      expect(ends.every((e) => e.outcome === 'success' && e.nodeId === 'a' && e.ttftMs > 0)).toBe(true);
      off();
      offThrowing();
      await submit();
      expect(ends).toHaveLength(3);
    } finally {
      await h.close();
    }
  });
});
