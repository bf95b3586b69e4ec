import { discoverNode, parseExpiresAt, parsePs, parseTags } from '../../src/nodes/discovery';
import { OllamaProbe, ProbeError } from '../../src/nodes/ollama-probe';
import { FakeOllama, PS_EXPIRES_AT, closedPort } from './fake-ollama';

const NOW = Date.parse('2025-06-01T00:00:00Z');

describe('parseExpiresAt', () => {
  it.each([
    ['2024-06-04T14:38:31.83753-07:00', Date.parse('2024-06-04T21:38:31.837Z')],
    ['2025-06-01T00:05:00.123456789Z', NOW + 300_123],
    ['2318-09-21T02:25:42.311474919+02:00', Infinity], // keep_alive -1
    ['2130-01-01T00:00:00Z', Infinity], // over a century ahead,
    ['2100-01-01T00:00:00Z', Date.parse('2100-01-01T00:00:00Z')],
    ['0001-01-01T00:00:00Z', Date.parse('0001-01-01T00:00:00Z')], // Go's zero time: already expired
    ['not a date', Infinity],
    [undefined, Infinity],
    [42, Infinity],
  ])('%p -> %p', (value, expected) => {
    expect(parseExpiresAt(value, NOW)).toBe(expected);
  });
});

describe('parseTags', () => {
  it('normalises names and keeps details, size, digest and modified time', () => {
    const models = parseTags({
      models: [
        { name: 'Llama3.2', model: 'Llama3.2', size: 7, digest: 'ab', modified_at: '2025-05-04T17:37:44.706015396-07:00', details: { family: 'llama', parameter_size: '3.2B' } },
        { name: 'llama3.2:latest', model: 'llama3.2:latest', size: 7 }, // duplicate after normalisation
        { name: 'registry.ollama.ai/library/qwen3:8b', capabilities: ['completion', 'tools', 3] },
        { name: '' },
        { size: 1 },
        'garbage',
      ],
    });
    expect(models).toEqual([
      { name: 'llama3.2:latest', size: 7, digest: 'ab', modifiedAt: Date.parse('2025-05-05T00:37:44.706Z'), details: { family: 'llama', parameter_size: '3.2B' } },
      { name: 'qwen3:8b', size: 0, digest: '', details: {}, capabilities: ['completion', 'tools'] },
    ]);
  });

  it.each([
    [{ models: [] }, []],
    [{ models: null }, []],
  ])('%j -> %j', (body, expected) => {
    expect(parseTags(body)).toEqual(expected);
  });

  it.each([[null], [[]], [{}], [{ models: 'x' }], ['{"models":[]}']])('rejects %j as malformed', (body) => {
    expect(() => parseTags(body)).toThrow(ProbeError);
    try {
      parseTags(body);
    } catch (e) {
      expect((e as ProbeError).kind).toBe('malformed');
    }
  });
});

describe('parsePs', () => {
  it('gives LoadedModels: normalised, signature unknown, expiry in epoch ms, size_vram', () => {
    const loaded = parsePs(
      {
        models: [
          { name: 'mistral', model: 'mistral:latest', expires_at: '2318-09-21T02:25:42.311474919+02:00', size_vram: 5137025024 },
          { name: 'llama3.2:latest', expires_at: PS_EXPIRES_AT, size_vram: 0 },
          { model: 'Phi3', expires_at: 'soon' },
        ],
      },
      NOW,
    );
    expect(loaded).toEqual([
      { model: 'mistral:latest', optionsSignature: null, expiresAt: Infinity, sizeVram: 5137025024 },
      { model: 'llama3.2:latest', optionsSignature: null, expiresAt: Date.parse(PS_EXPIRES_AT), sizeVram: 0 },
      { model: 'phi3:latest', optionsSignature: null, expiresAt: Infinity },
    ]);
  });

  it('rejects a body without models', () => {
    expect(() => parsePs({ error: 'x' }, NOW)).toThrow(/no "models"/);
  });
});

describe('discoverNode', () => {
  let node: FakeOllama;
  let probe: OllamaProbe;
  beforeEach(async () => {
    node = await FakeOllama.start();
    probe = new OllamaProbe({ timeoutMs: 300 });
  });
  afterEach(async () => {
    await probe.close();
    await node.close();
  });

  it('reads /api/tags and /api/ps with GET only', async () => {
    const r = await discoverNode(probe, { id: 'n1', url: node.url });
    expect(r).toMatchObject({ nodeId: 'n1', ok: true });
    expect(r.error).toBeUndefined();
    expect(r.models?.map((m) => m.name)).toEqual(['llama3.2:latest', 'nomic-embed-text:latest']);
    expect(r.models?.[0].details).toEqual({ parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' });
    expect(r.models?.[1]).toMatchObject({ capabilities: ['embedding'], details: { embedding_length: 768 } });
    expect(r.loaded).toEqual([
      { model: 'mistral:latest', optionsSignature: null, expiresAt: Infinity, sizeVram: 5137025024 },
      { model: 'llama3.2:latest', optionsSignature: null, expiresAt: Date.parse(PS_EXPIRES_AT), sizeVram: 0 },
    ]);
    expect(node.requests.map((q) => `${q.method} ${q.path}`).sort()).toEqual(['GET /api/ps', 'GET /api/tags']);
  });

  it('an empty node has no models and nothing loaded', async () => {
    node.tags = { models: [] };
    node.ps = { models: [] };
    expect(await discoverNode(probe, { id: 'n1', url: node.url })).toMatchObject({ ok: true, models: [], loaded: [] });
  });

  it.each([
    // [path, fault, kind, which part still arrives]
    ['/api/ps', '500', 'http', 'models'],
    ['/api/ps', 'malformed', 'malformed', 'models'],
    ['/api/tags', 'malformed', 'malformed', 'loaded'],
    ['/api/tags', 'hang', 'timeout', 'loaded'],
  ] as const)('%s answering %s: not ok (%s), %s still reported', async (path, fault, kind, part) => {
    node.faults.set(path, fault);
    const r = await discoverNode(probe, { id: 'n1', url: node.url });
    expect(r).toMatchObject({ ok: false, errorKind: kind });
    expect(r.error).toContain(path);
    expect(r[part]).toBeDefined();
    expect(r[part === 'models' ? 'loaded' : 'models']).toBeUndefined();
  });

  it('a shape that is not Ollama (valid JSON) is malformed', async () => {
    node.tags = { data: [] };
    const r = await discoverNode(probe, { id: 'n1', url: node.url });
    expect(r).toMatchObject({ ok: false, errorKind: 'malformed' });
  });

  it('a closed port is refused', async () => {
    const r = await discoverNode(probe, { id: 'down', url: `http://127.0.0.1:${await closedPort()}` });
    expect(r).toMatchObject({ nodeId: 'down', ok: false, errorKind: 'refused' });
    expect(r.models).toBeUndefined();
    expect(r.loaded).toBeUndefined();
  });
});
