import { startSimPool } from '@ollama-ring/ollama-sim';
import { InferenceRequest, type NodeSpec } from '@ollama-ring/balancer';
import { eventually, startHarness } from './harness';

const spec = (id: string, url: string, slots = 1): NodeSpec => ({ id, url, models: [], maxConcurrentRequests: slots, weight: 1, enabled: true, tags: [], priority: 0 });

describe('a reload keeps the nodes added at run time', () => {
  test('kept across reloads unless the file defines the same id; then the file wins and owns the node', async () => {
    const h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }]);
    const extra = await startSimPool({ timeScale: 0.02, models: [{ name: 'qwen3', loadMs: 500 }], nodes: [{ id: 'x', models: ['qwen3'], numParallel: 4 }] });
    const xUrl = extra.nodes[0].url;
    try {
      const registry = h.factory.getNodeRegistry();
      await registry.add(spec('x', xUrl, 2));
      await eventually(() => registry.getNode('x')?.models.includes('qwen3:latest') === true, 5_000, 'x discovered');
      expect([...h.factory.getConfiguredNodeIds()]).toEqual(['a']);

      // A reload of a file that does not know x: x stays, with its spec, and still serves.
      const fileOnlyA = { ...h.config, strategy: { ...h.config.strategy, type: 'least-in-flight' } };
      await h.factory.reload(fileOnlyA);
      expect(registry.getAllNodes().map((n) => [n.id, n.maxConcurrent])).toEqual([
        ['a', 1],
        ['x', 2],
      ]);
      expect(h.factory.getConfig().nodes.map((n) => n.id)).toEqual(['a', 'x']);
      expect(h.factory.getConfig().strategy.type).toBe('least-in-flight');
      expect((await h.factory.getPipeline().submit(InferenceRequest.ofPrompt('qwen3', 'hi'))).nodeId).toBe('x');
      // ...and it is still supervised: its models were not forgotten by the reload.
      expect(registry.getNode('x')?.models).toContain('qwen3:latest');

      // A node removed at run time stays removed (it is not in the file).
      await registry.add(spec('y', xUrl));
      await registry.remove('y');
      await h.factory.reload(fileOnlyA);
      expect(registry.getAllNodes().map((n) => n.id)).toEqual(['a', 'x']);

      // The file now defines x: its spec wins, and x belongs to the file from now on.
      await h.factory.reload({ ...fileOnlyA, nodes: [...fileOnlyA.nodes, spec('x', xUrl, 3)] });
      expect(registry.getNode('x')?.maxConcurrent).toBe(3);
      expect([...h.factory.getConfiguredNodeIds()].sort()).toEqual(['a', 'x']);

      // So a file without x removes it.
      await h.factory.reload(fileOnlyA);
      expect(registry.getAllNodes().map((n) => n.id)).toEqual(['a']);
    } finally {
      await h.close();
      await extra.close();
    }
  });
});
