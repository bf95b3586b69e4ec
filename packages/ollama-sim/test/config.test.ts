import { join } from 'node:path';
import { SimConfigError, SimError, SimUnknownNodeError, loadSimConfig, parseSimConfig, resolveNode, validateSimConfig, type SimPoolConfig } from '@ollama-ring/ollama-sim';

const EXAMPLE = join(__dirname, '..', '..', '..', 'config', 'sim-pool.yaml');

describe('sim config', () => {
  it('loads the example pool: 3 heterogeneous nodes over 5 models', () => {
    const cfg = loadSimConfig(EXAMPLE);
    expect(cfg.nodes).toHaveLength(3);
    expect(cfg.models).toHaveLength(5);
    const nodes = cfg.nodes.map((n) => resolveNode(cfg, n));
    expect(new Set(nodes.map((n) => n.numParallel)).size).toBe(3);
    expect(new Set(nodes.map((n) => n.models[0].tokensPerSec)).size).toBe(3);
    const small = nodes[1];
    // A per-node override wins over the catalog's load time.
    expect(small.models.find((m) => m.name === 'qwen3:8b')?.loadMs).toBe(5000);
    expect(nodes[2].models[0].sizeVram).toBe(0);
    expect(nodes[0].models.find((m) => m.name === 'qwen3:8b')?.tokensPerSec).toBeCloseTo(90 * 0.6);
  });

  it('fills documented defaults', () => {
    const cfg: SimPoolConfig = { nodes: [{ id: 'a', models: [{ name: 'm' }] }] };
    const n = resolveNode(validateSimConfig(cfg), cfg.nodes[0]);
    expect(n).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      numParallel: 1,
      maxLoadedModels: 3,
      maxQueue: 512,
      keepAliveMs: 300_000,
      defaultNumCtx: 4096,
      version: '0.33.0',
      timeScale: 1,
      checkHost: true,
    });
    expect(n.models[0]).toMatchObject({ name: 'm:latest', loadMs: 1000, tokensPerSec: 50, promptTokensPerSec: 1000, capabilities: ['completion'], embeddingLength: 768 });
  });

  it.each([
    ['an unknown field', 'nodes:\n  - id: a\n    models: [m]\n    numParalel: 2\nmodels: [{name: m}]', "/nodes/0 has unknown field 'numParalel'"],
    ['a wrong type', 'nodes:\n  - id: a\n    models: [{name: m}]\n    numParallel: two', '/nodes/0/numParallel must be integer'],
    ['no nodes', 'nodes: []', '/nodes must NOT have fewer than 1 items'],
    ['a duplicate id', 'nodes:\n  - {id: a, models: [{name: m}]}\n  - {id: a, models: [{name: m}]}', "/nodes/1/id 'a' is used by another node"],
    [
      'a duplicate port',
      'nodes:\n  - {id: a, port: 9000, models: [{name: m}]}\n  - {id: b, port: 9000, models: [{name: m}]}',
      "/nodes/1/port 127.0.0.1:9000 is also used by node 'a'",
    ],
    ['a model missing from the catalog', 'nodes:\n  - {id: a, models: [ghost]}', "/nodes/0/models/0 'ghost' is not in the top-level models catalog"],
    ['an invalid model name', 'models: [{name: "bad name"}]\nnodes:\n  - {id: a, models: [{name: m}]}', "/models/0/name 'bad name' is not a valid model name"],
    ['a preload that is not installed', 'nodes:\n  - {id: a, models: [{name: m}], preload: [z]}', "/nodes/0/preload/0 'z' is not one of the node's models"],
    ['a bad keepAlive', 'nodes:\n  - {id: a, models: [{name: m}], keepAlive: "10"}', '/nodes/0/keepAlive time: missing unit in duration "10"'],
    ['an inverted range', 'nodes:\n  - {id: a, models: [{name: m, responseTokens: {min: 9, max: 2}}]}', '/nodes/0/models/0/responseTokens min (9) is greater than max (2)'],
    ['a bad fault', 'nodes:\n  - {id: a, models: [{name: m}], faults: {failNext: {count: 1}}}', "/nodes/0/faults/failNext must have required property 'status'"],
    ['broken YAML', 'nodes: [', 'unexpected end of the stream'],
  ])('rejects %s with a clear message', (_name, yaml, message) => {
    let err: unknown;
    try {
      parseSimConfig(yaml, 'test.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimConfigError);
    expect(err).toBeInstanceOf(SimError);
    expect((err as SimConfigError).code).toBe('ERR_SIM_CONFIG');
    expect((err as SimConfigError).problems.join('\n')).toContain(message);
    expect((err as Error).message).toContain('invalid sim config in test.yaml');
  });

  it('lists every problem at once', () => {
    expect(() =>
      validateSimConfig({
        nodes: [
          { id: 'a', models: ['x'] },
          { id: 'a', models: ['y'] },
        ],
      }),
    ).toThrow(expect.objectContaining({ problems: expect.arrayContaining([expect.stringContaining("'x'"), expect.stringContaining("'y'"), expect.stringContaining("id 'a'")]) }));
  });

  it('reports an unreadable file', () => {
    expect(() => loadSimConfig('/nonexistent/sim.yaml')).toThrow(/cannot read file/);
  });
});

describe('SimUnknownNodeError', () => {
  test('has a stable code, names the node, and is a SimError', () => {
    const e = new SimUnknownNodeError('z');
    expect(e.code).toBe('ERR_SIM_UNKNOWN_NODE');
    expect(e.message).toBe("no node 'z' in this pool");
    expect(e).toBeInstanceOf(SimError);
  });
});
