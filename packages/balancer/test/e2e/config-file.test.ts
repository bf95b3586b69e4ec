import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { ConfigError, InferenceRequest, PipelineFactory } from '@ollama-ring/balancer';
import { eventually } from './harness';

describe('PipelineFactory.create from a config file', () => {
  let sim: SimPool;
  let dir: string;
  beforeAll(async () => {
    sim = await startSimPool({ timeScale: 0.02, models: [{ name: 'llama3.2', loadMs: 500 }], nodes: [{ id: 'a', models: ['llama3.2'] }] });
    dir = mkdtempSync(join(tmpdir(), 'ollama-ring-cfg-'));
  });
  afterAll(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const yaml = (strategy: string) =>
    ['nodes:', `  - { id: a, url: ${sim.nodes[0].url}, maxConcurrentRequests: 2 }`, `strategy: { type: ${strategy} }`, 'healthCheck: { intervalMs: 60000 }', ''].join('\n');

  test('a seed-style file loads, serves, and hot-reloads good edits while keeping the last good config on bad ones', async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml('round_robin'));
    const errors: Error[] = [];
    const factory = await PipelineFactory.create(file, { watch: true, onConfigError: (e) => errors.push(e), env: {} }).start();
    try {
      expect(factory.getPipeline().getStrategy()).toBe('round-robin');
      const res = await factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'hi'));
      expect(res.nodeId).toBe('a');

      writeFileSync(file, yaml('least_loaded'));
      await eventually(() => factory.getPipeline().getStrategy() === 'least-in-flight', 10_000, 'reload applied');

      writeFileSync(file, 'nodes:\n  - { id: a, url: not-a-url }\n');
      await eventually(() => errors.length > 0, 10_000, 'bad edit reported');
      expect(errors[0]).toBeInstanceOf(ConfigError);
      expect(errors[0].message).toMatch(/nodes\[0\]\.url/);
      expect(
        factory
          .getNodeRegistry()
          .getAllNodes()
          .map((n) => n.url),
      ).toEqual([sim.nodes[0].url]);
    } finally {
      await factory.stop(2_000);
    }
  });

  test('a bad file fails create() with the key and line', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  port: 8080\ndisruptor:\n  ringBufferSize: 1000\n');
    expect(() => PipelineFactory.create(file, { env: {} })).toThrow(/bad\.yaml:4.*ringBufferSize/s);
  });
});
