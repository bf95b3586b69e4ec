import { startSimPool } from '@ollama-ring/ollama-sim';
import { InferenceRequest } from '@ollama-ring/balancer';
import { eventually, startHarness } from './harness';

describe('nodes added and removed at run time are supervised', () => {
  test('an added node is discovered and serves; a removed one leaves the pool', async () => {
    const h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }]);
    const extra = await startSimPool({ timeScale: 0.02, models: [{ name: 'qwen3', loadMs: 500 }], nodes: [{ id: 'x', models: ['qwen3'] }] });
    try {
      const registry = h.factory.getNodeRegistry();
      await registry.add({ id: 'x', url: extra.nodes[0].url, models: [], maxConcurrentRequests: 1, weight: 1, enabled: true, tags: [], priority: 0 });
      // Discovery (run by the health monitor) must learn what the new node has.
      await eventually(() => registry.getNode('x')?.models.includes('qwen3:latest') === true, 5_000, 'x discovered');
      const res = await h.factory.getPipeline().submit(InferenceRequest.ofPrompt('qwen3', 'hi'));
      expect(res.nodeId).toBe('x');
      await registry.remove('x');
      expect(registry.getNode('x')).toBeUndefined();
    } finally {
      await h.close();
      await extra.close();
    }
  });
});
