import { Ollama } from 'ollama';
import OpenAI from 'openai';
import pino from 'pino';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/** An entry of a merged listing, with the extra field the gateway adds. */
type Listed = { name: string; ollama_ring?: { nodes: string[] } };

const nodesOf = (models: Listed[], name: string) =>
  models
    .find((m) => m.name === name)
    ?.ollama_ring?.nodes.slice()
    .sort();

describe('model routes through the gateway (official clients)', () => {
  let g: GatewayHarness;
  let ollama: Ollama;
  const logLines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  beforeAll(async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'] },
      ],
      undefined,
      { routes: allRoutes, logger },
    );
    ollama = new Ollama({ host: g.url });
  });
  afterAll(() => g.close());

  test.each(['GET', 'HEAD'])('%s / answers like Ollama', async (method) => {
    const res = await fetch(`${g.url}/`, { method });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe(method === 'GET' ? 'Ollama is running' : '');
  });

  test('list(): models merged over the nodes, each saying which nodes have it', async () => {
    const { models } = await ollama.list();
    const names = models.map((m) => m.name).sort();
    expect(names).toEqual(['llama3.2:latest', 'nomic-embed-text:latest']);
    expect(nodesOf(models as unknown as Listed[], 'llama3.2:latest')).toEqual(['a', 'b']);
    expect(nodesOf(models as unknown as Listed[], 'nomic-embed-text:latest')).toEqual(['a']);
    // The usual fields are untouched.
    expect(models[0].details.family).toBeTruthy();
    expect(typeof models[0].size).toBe('number');
  });

  test('ps(): loaded models merged, with their nodes', async () => {
    const { models } = await ollama.ps();
    expect(nodesOf(models as unknown as Listed[], 'llama3.2:latest')).toEqual(['b']);
    expect(new Date(models[0].expires_at).getTime()).toBeGreaterThan(Date.now());
  });

  test("show(): answered by a node that has the model; an unknown model is Ollama's 404", async () => {
    const shown = await ollama.show({ model: 'nomic-embed-text' });
    expect(shown.capabilities).toEqual(['embedding']);
    const res = await fetch(`${g.url}/api/show`, { method: 'POST', body: JSON.stringify({ model: 'nomic-embed-text' }) });
    expect(res.headers.get('x-ollama-ring-node')).toBe('a');
    await res.json();
    await expect(ollama.show({ model: 'nope' })).rejects.toMatchObject({ status_code: 404, error: "model 'nope:latest' not found" });
    // One request-log line each, naming the route and the node that answered.
    const shows = logLines.filter((l) => l.msg === 'request' && l.route === '/api/show');
    expect(shows.map((l) => [l.status, l.node, l.outcome])).toEqual([
      [200, 'a', 'ok'],
      [200, 'a', 'ok'],
      [404, expect.any(String), 'not_found'],
    ]);
  });

  test("version(): the oldest node version, and the gateway's own alongside", async () => {
    expect((await ollama.version()).version).toBe('0.33.0');
    const body = (await (await fetch(`${g.url}/api/version`)).json()) as { ollama_ring: { version: string; nodes: Record<string, string> } };
    expect(body.ollama_ring.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.ollama_ring.nodes).toEqual({ a: '0.33.0', b: '0.33.0' });
  });

  test('pull(): progress from every node merged into one stream; the model is routable at once', async () => {
    const stream = await ollama.pull({ model: 'qwen3', stream: true });
    const statuses: string[] = [];
    const seen = new Set<string>();
    for await (const part of stream) {
      statuses.push(part.status);
      const node = (part as unknown as { ollama_ring?: { node?: string } }).ollama_ring?.node;
      if (node) seen.add(node);
    }
    expect([...seen].sort()).toEqual(['a', 'b']);
    expect(statuses).toContain('a: pulling manifest');
    expect(statuses).toContain('b: success');
    expect(statuses.at(-1)).toBe('success');
    expect(statuses.filter((s) => s === 'success')).toHaveLength(1);
    // Routing learned about it without waiting for the next discovery round.
    const gen = await ollama.generate({ model: 'qwen3', prompt: 'hi', stream: false });
    expect(gen.done).toBe(true);
    expect(nodesOf((await ollama.list()).models as unknown as Listed[], 'qwen3:latest')).toEqual(['a', 'b']);
  });

  test('pull to the nodes named by X-Ollama-Ring-Nodes, not streamed', async () => {
    const res = await fetch(`${g.url}/api/pull`, {
      method: 'POST',
      headers: { 'x-ollama-ring-nodes': 'b' },
      body: JSON.stringify({ model: 'nomic-embed-text', stream: false }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'success', ollama_ring: { nodes: { b: 'success' } } });
    expect(nodesOf((await ollama.list()).models as unknown as Listed[], 'nomic-embed-text:latest')).toEqual(['a', 'b']);
  });

  test("pull of a model no registry has: each node's error is a line, then one final error", async () => {
    const stream = await ollama.pull({ model: 'no-such-model', stream: true });
    const statuses: string[] = [];
    const run = (async () => {
      for await (const part of stream) statuses.push(part.status);
    })();
    await expect(run).rejects.toThrow(/pull failed on a \(pull model manifest: file does not exist\), b/);
    expect(statuses).toContain('a: error: pull model manifest: file does not exist');
  });

  test.each([
    ['an unknown node', { 'x-ollama-ring-nodes': 'a,zz' }, { model: 'qwen3' }, 400, 'unknown node in x-ollama-ring-nodes: zz'],
    ['no model', {}, { stream: false }, 400, 'model is required'],
    ['a model that is not a string', {}, { model: 7 }, 400, "field 'model' must be a string (got number)"],
  ])('pull with %s', async (_l, headers, body, status, error) => {
    const res = await fetch(`${g.url}/api/pull`, { method: 'POST', headers, body: JSON.stringify(body) });
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error });
  });

  test('a pull where one node is down: the others finish, the last line names the failure', async () => {
    g.sim.node('b').refuse();
    try {
      const res = await fetch(`${g.url}/api/pull`, {
        method: 'POST',
        headers: { 'x-ollama-ring-nodes': 'a,b' },
        body: JSON.stringify({ model: 'qwen3' }),
      });
      expect(res.status).toBe(200);
      const lines = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { status?: string; error?: string });
      expect(lines.some((l) => l.status === 'a: success')).toBe(true);
      expect(lines.some((l) => l.status?.startsWith('b: error: node b: /api/pull failed: connection refused'))).toBe(true);
      expect(lines.at(-1)?.error).toMatch(/^pull failed on b \(/);
    } finally {
      await g.sim.node('b').accept();
    }
  });

  test('copy, create and delete (admin, here loopback with no token) reach every node that has the model', async () => {
    await ollama.copy({ source: 'llama3.2', destination: 'my-llama' });
    expect(nodesOf((await ollama.list()).models as unknown as Listed[], 'my-llama:latest')).toEqual(['a', 'b']);
    expect((await ollama.generate({ model: 'my-llama', prompt: 'x', stream: false })).done).toBe(true);

    // A copy to the named node only; then create `from` that model goes where it is: `a` only.
    const copied = await fetch(`${g.url}/api/copy`, {
      method: 'POST',
      headers: { 'x-ollama-ring-nodes': 'a' },
      body: JSON.stringify({ source: 'llama3.2', destination: 'only-a' }),
    });
    expect(await copied.json()).toEqual({ status: 'success', ollama_ring: { nodes: { a: 'success' } } });
    const created = await ollama.create({ model: 'my-own', from: 'only-a', stream: false });
    expect(created.status).toBe('success');
    expect(nodesOf((await ollama.list()).models as unknown as Listed[], 'my-own:latest')).toEqual(['a']);

    await ollama.delete({ model: 'my-llama' });
    expect(nodesOf((await ollama.list()).models as unknown as Listed[], 'my-llama:latest')).toBeUndefined();
    await expect(ollama.delete({ model: 'my-llama' })).rejects.toMatchObject({ status_code: 404, error: "model 'my-llama' not found" });
    // The balancer forgot it too: a generate is the gateway's own 404, not a trip to a node.
    await expect(ollama.generate({ model: 'my-llama', prompt: 'x', stream: false })).rejects.toMatchObject({ status_code: 404 });
  });

  test.each([
    ['copy without destination', 'POST', '/api/copy', { source: 'llama3.2' }, 400, 'destination "" is invalid'],
    ['copy of a missing model', 'POST', '/api/copy', { source: 'nope', destination: 'x' }, 404, 'model "nope" not found'],
    ['delete without a model', 'DELETE', '/api/delete', {}, 400, 'model is required'],
    ['create with a bad from', 'POST', '/api/create', { model: 'x', from: 3 }, 400, "field 'from' must be a string"],
  ])('%s', async (_l, method, path, body, status, error) => {
    const res = await fetch(`${g.url}${path}`, { method, body: JSON.stringify(body) });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });

  test("openai: models.list() and models.retrieve(), with a 404 in OpenAI's shape", async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
      expect(m.object).toBe('model');
      expect(m.owned_by).toBe('library');
      expect(m.created).toBeGreaterThan(1_600_000_000);
    }
    expect(ids).toContain('llama3.2:latest');
    const one = await client.models.retrieve('llama3.2');
    expect(one.id).toBe('llama3.2');
    await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404, message: expect.stringContaining("model 'nope:latest' not found") });
    const raw = await fetch(`${g.url}/v1/models/nope`);
    expect(await raw.json()).toEqual({ error: { message: "model 'nope:latest' not found", type: 'not_found_error', param: null, code: null } });
    // Named as Ollama's DisplayShortest does: the default namespace dropped, an invalid name as given.
    const ns = await fetch(`${g.url}/v1/models/${encodeURIComponent('library/Nope')}`);
    expect(((await ns.json()) as { error: { message: string } }).error.message).toBe("model 'Nope:latest' not found");
    const bad = await fetch(`${g.url}/v1/models/${encodeURIComponent('bad name')}`);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe("model 'bad name' not found");
  });
});
