// Seed parity, end to end against the emulator: a seed-001-shaped config routes by specialization,
// discovery can be turned off (seed 000's check_models=False), and chat and embeddings have timeouts
// of their own (seed 004's chat_timeout / embedding_timeout).
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { Route } from '@ollama-ring/protocol';
import { InferenceRequest, PipelineFactory, UpstreamTimeoutError } from '@ollama-ring/balancer';
import { inFlight, startHarness } from './harness';

const MODELS = [
  { name: 'llama3.2', loadMs: 2000 },
  { name: 'qwen3', loadMs: 3000 },
  { name: 'nomic-embed-text', loadMs: 400, capabilities: ['embedding' as const], embeddingLength: 8 },
];

const prompt = (model = 'llama3.2', extra: Record<string, unknown> = {}) => InferenceRequest.ofPrompt(model, 'hi', { options: { num_predict: 4 }, ...extra });

describe('seed 001: a node’s specialization routes like a tag', () => {
  let sim: SimPool;
  let factory: PipelineFactory;
  beforeAll(async () => {
    sim = await startSimPool({
      timeScale: 0.02,
      models: MODELS,
      nodes: [
        { id: 'cpu-1', models: ['llama3.2'] },
        { id: 'gpu-1', models: ['llama3.2'] },
      ],
    });
    // The guide's own shape: `instances:`, max_concurrent, tags, priority, weight, specialization,
    // and a `load_balancing:` section.
    factory = await PipelineFactory.create(
      {
        instances: [
          { id: 'cpu-1', url: sim.nodes[0].url, models: ['llama3.2'], max_concurrent: 2, tags: ['cpu', 'fast'], priority: 2 },
          { id: 'gpu-1', url: sim.nodes[1].url, models: ['llama3.2'], max_concurrent: 2, tags: ['gpu'], priority: 1, weight: 2.0, specialization: 'large-models' },
        ],
        load_balancing: { strategy: 'least_loaded', health_check_interval: 30, retry_attempts: 1, circuit_breaker: { failure_threshold: 5, recovery_timeout: 60 } },
      },
      { env: {} },
    ).start();
  });
  afterAll(async () => {
    await factory.stop(5_000);
    await sim.close();
  });

  test('loads without a warning; the specialization is one of the node’s tags', () => {
    expect(factory.warnings).toEqual([]);
    const gpu = factory.getNodeRegistry().getNode('gpu-1');
    expect(gpu?.tags).toEqual(['gpu', 'large-models']);
  });

  test('a request requiring the specialization goes to that node only, by hint or by the body’s instance_tags', async () => {
    const pipeline = factory.getPipeline();
    for (let i = 0; i < 4; i++) {
      expect((await pipeline.submit(prompt(), { hints: { tags: ['large-models'] } })).nodeId).toBe('gpu-1');
      expect((await pipeline.submit(prompt('llama3.2', { instance_tags: ['large-models'] }))).nodeId).toBe('gpu-1');
    }
    // Nothing carries a specialization nobody has: refused at once, not left to wait.
    await expect(pipeline.submit(prompt(), { hints: { tags: ['tiny-models'] } })).rejects.toThrow(/with tags \[tiny-models\]/);
    expect(
      factory
        .getNodeRegistry()
        .getAllNodes()
        .map((n) => n.inFlight),
    ).toEqual([0, 0]);
  });
});

describe('discovery.enabled: false (seed 000’s check_models=False)', () => {
  test('no /api/tags or /api/ps is read; the configured models route, a node without any serves any model', async () => {
    const sim = await startSimPool({
      timeScale: 0.02,
      models: MODELS,
      nodes: [
        { id: 'a', models: ['llama3.2', 'qwen3'] },
        { id: 'b', models: ['llama3.2', 'qwen3'] },
      ],
    });
    // Seed 000's list of servers, with its check_models flag beside it.
    const factory = await PipelineFactory.create(
      {
        check_models: false,
        nodes: [
          { id: 'a', url: sim.nodes[0].url, max_concurrent: 1, models: ['llama3.2'] },
          { id: 'b', url: sim.nodes[1].url, max_concurrent: 1 },
        ],
        healthCheck: { intervalMs: 100 },
        strategy: 'round_robin',
      },
      { env: {} },
    ).start();
    try {
      expect(factory.getConfig().discovery.enabled).toBe(false);
      const pipeline = factory.getPipeline();
      // qwen3 is configured on no node with a list: only b, which lists none, may serve it.
      for (let i = 0; i < 3; i++) expect((await pipeline.submit(prompt('qwen3'))).nodeId).toBe('b');
      // Health checks go on (a few rounds at 100 ms), discovery never starts.
      await new Promise((r) => setTimeout(r, 400));
      for (const node of sim.nodes) {
        const byRoute = node.state().byRoute;
        expect(byRoute['GET /api/tags'] ?? 0).toBe(0);
        expect(byRoute['GET /api/ps'] ?? 0).toBe(0);
        expect((byRoute['GET /api/version'] ?? 0) + (byRoute['GET /'] ?? 0)).toBeGreaterThan(1);
      }
      // Nothing learned from the nodes: a still serves only what its list says, though it has qwen3.
      expect(modelsOf(factory, 'a')).toEqual(['llama3.2']);
      const served = new Set<string>();
      for (let i = 0; i < 4; i++) served.add((await pipeline.submit(prompt('llama3.2'))).nodeId);
      expect([...served].sort()).toEqual(['a', 'b']);
    } finally {
      await factory.stop(5_000);
      await sim.close();
    }
  });

  test('with discovery on (the default), the same pool reads /api/tags and learns a’s other model', async () => {
    const h = await startHarness([{ id: 'a', models: ['llama3.2', 'qwen3'] }]);
    try {
      expect(h.sim.node('a').state().byRoute['GET /api/tags']).toBeGreaterThan(0);
      expect(modelsOf(h.factory, 'a')).toEqual(expect.arrayContaining(['llama3.2:latest', 'qwen3:latest']));
    } finally {
      await h.close();
    }
  });
});

function modelsOf(factory: PipelineFactory, id: string): string[] {
  return factory.getNodeRegistry().getNode(id)?.models ?? [];
}

describe('timeouts.routes: chat and embeddings time out on their own (seed 004)', () => {
  // Each model sits on a node of its own and takes 3 s (150 simulated seconds at 0.02) to load.
  const slowNodes = () => [
    { id: 'chat', models: [{ name: 'llama3.2', loadMs: 150_000 }] },
    { id: 'embed', models: [{ name: 'nomic-embed-text', loadMs: 150_000 }] },
  ];
  const embed = (route = Route.Embed) => new InferenceRequest(route, { model: 'nomic-embed-text', input: 'a' });

  test('a short embeddings timeout fails a slow embedding, on every embeddings route, while a chat on an equally slow node completes', async () => {
    const h = await startHarness(slowNodes(), (c) => {
      c.timeouts.routes.embeddings = { requestTimeoutMs: 1_200 };
      c.retry.maxRetries = 0;
    });
    try {
      const pipeline = h.factory.getPipeline();
      const chat = pipeline.submit(InferenceRequest.ofChat('llama3.2', [{ role: 'user', content: 'hi' }], { options: { num_predict: 4 } }));
      const t0 = Date.now();
      const err = await pipeline.submit(embed()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamTimeoutError);
      // Well before the load would have finished (3 s), and not long before the route's own timeout
      // (1.2 s): on a loaded VM the timer and the wall clock were seen to disagree by over 100 ms.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(Date.now() - t0).toBeLessThan(2_900);
      await expect(pipeline.submit(embed(Route.OpenAIEmbeddings))).rejects.toBeInstanceOf(UpstreamTimeoutError);
      const res = await chat;
      expect(res.nodeId).toBe('chat');
      expect(res.text.length).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  test('and the other way round: a short chat timeout, a slow embedding completes', async () => {
    const h = await startHarness(slowNodes(), (c) => {
      c.timeouts.routes.chat = { requestTimeoutMs: 1_200 };
      c.retry.maxRetries = 0;
    });
    try {
      const pipeline = h.factory.getPipeline();
      const embedding = pipeline.submit(embed());
      await expect(pipeline.submit(prompt())).rejects.toBeInstanceOf(UpstreamTimeoutError);
      await expect(pipeline.submit(new InferenceRequest(Route.OpenAIChat, { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }))).rejects.toBeInstanceOf(
        UpstreamTimeoutError,
      );
      const res = await embedding;
      expect(res.nodeId).toBe('embed');
      expect((res.body.embeddings as number[][])[0]).toHaveLength(8);
      expect(inFlight(h)).toEqual({ chat: 0, embed: 0 });
    } finally {
      await h.close();
    }
  });
});
