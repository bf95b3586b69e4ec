import { PipelineFactory, defaultConfig } from '@ollama-ring/balancer';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { Gateway } from '../src';

/**
 * With failover.streamUpstream (the default) a non-streamed generate or chat is streamed from the
 * node and assembled by the gateway. The client must get exactly what the node itself would have
 * answered without streaming: same fields in the same order, same values (timings aside), same
 * content type. The emulator answers both ways as Ollama does, from the same seeded text.
 */
describe('non-streamed answers assembled from a stream are what the node would have sent', () => {
  let sim: SimPool;
  let factory: PipelineFactory;
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    sim = await startSimPool({
      timeScale: 0.01,
      models: [{ name: 'qwen3', loadMs: 100, capabilities: ['completion', 'thinking', 'tools'] }],
      nodes: [{ id: 'a', models: ['qwen3'], preload: ['qwen3'] }],
    });
    const config = defaultConfig();
    config.nodes = [{ id: 'a', url: sim.nodes[0].url, models: [], maxConcurrentRequests: 1, weight: 1, enabled: true, tags: [], priority: 0 }];
    factory = await PipelineFactory.fromConfig(config).start();
    gateway = new Gateway({ factory });
    url = `http://127.0.0.1:${(await gateway.listen(0, '127.0.0.1')).port}`;
  });
  afterAll(async () => {
    await gateway.close(5_000);
    await sim.close();
  });

  const TIMING = new Set(['created_at', 'total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']);
  const post = async (base: string, path: string, body: object) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
  };
  /** The answer as [key, value] pairs in order, timings reduced to their type. */
  const shape = (o: Record<string, unknown>): unknown[] => Object.entries(o).map(([k, v]) => [k, TIMING.has(k) ? typeof v : v]);

  test.each([
    ['generate, thinking, with context', '/api/generate', { model: 'qwen3', prompt: 'hi there', stream: false, think: true, options: { num_predict: 12 } }],
    ['generate, plain', '/api/generate', { model: 'qwen3', prompt: 'tell me a story', stream: false, options: { num_predict: 30 } }],
    [
      'chat with tools',
      '/api/chat',
      {
        model: 'qwen3',
        messages: [{ role: 'user', content: 'weather in Paris?' }],
        stream: false,
        tools: [{ type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      },
    ],
    ['chat, thinking', '/api/chat', { model: 'qwen3', messages: [{ role: 'user', content: 'why is the sky blue?' }], stream: false, think: true, options: { num_predict: 20 } }],
  ])('%s', async (_name, path, body) => {
    const direct = await post(sim.nodes[0].url, path, body);
    const viaGateway = await post(url, path, body);
    expect(viaGateway.status).toBe(200);
    expect(viaGateway.type).toBe(direct.type);
    expect(shape(viaGateway.body)).toEqual(shape(direct.body));
  });
});
