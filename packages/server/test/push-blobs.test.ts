import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Ollama } from 'ollama';
import { request } from 'undici';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

type Progress = { status?: string; error?: string; digest?: string; total?: number; completed?: number; ollama_ring?: { node?: string; nodes?: Record<string, string> } };

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('/api/push and /api/blobs through the gateway (admin: loopback, no token)', () => {
  let g: GatewayHarness;
  let ollama: Ollama;
  beforeAll(async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 1 },
        { id: 'b', models: ['llama3.2', 'qwen3'], numParallel: 1 },
      ],
      undefined,
      { routes: allRoutes },
    );
    ollama = new Ollama({ host: g.url });
  });
  afterAll(() => g.close());

  const blob = async (method: 'HEAD' | 'POST', digest: string, body?: Buffer | Readable, headers: Record<string, string> = {}) => {
    const res = await request(`${g.url}/api/blobs/${digest}`, { method, body, headers });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? (JSON.parse(text) as Progress) : undefined };
  };
  const nodeHas = async (id: string, digest: string) => (await request(`${g.sim.node(id).url}/api/blobs/${digest}`, { method: 'HEAD' })).statusCode === 200;

  test('push (official client, streamed): one node that holds the model pushes; its progress passes through unchanged', async () => {
    const stream = await ollama.push({ model: 'qwen3', stream: true });
    const lines: Progress[] = [];
    for await (const p of stream) lines.push(p as Progress);
    // Ollama's own lines, not prefixed or merged: only b holds qwen3.
    expect(lines[0]).toEqual({ status: 'retrieving manifest' });
    expect(lines.at(-1)).toEqual({ status: 'success' });
    expect(lines.some((l) => /^pushing [0-9a-f]{12}$/.test(l.status ?? '') && l.completed === l.total)).toBe(true);
    const res = await fetch(`${g.url}/api/push`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', stream: false }) });
    expect(res.status).toBe(200);
    expect(['a', 'b']).toContain(res.headers.get('x-ollama-ring-node'));
    expect(await res.json()).toEqual({ status: 'success' });
  });

  test("push, not streamed (official client); a model no node has is Ollama's own error", async () => {
    expect(await ollama.push({ model: 'qwen3' })).toEqual({ status: 'success' });
    const stream = await ollama.push({ model: 'nope', stream: true });
    await expect(
      (async () => {
        for await (const p of stream) void p;
      })(),
    ).rejects.toThrow('model "nope" not found');
  });

  test('push from the nodes named by X-Ollama-Ring-Nodes: progress merged per node, as for pull', async () => {
    const res = await fetch(`${g.url}/api/push`, { method: 'POST', headers: { 'x-ollama-ring-nodes': 'a,b' }, body: JSON.stringify({ model: 'llama3.2' }) });
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Progress);
    expect(lines.map((l) => l.status)).toEqual(expect.arrayContaining(['a: retrieving manifest', 'b: retrieving manifest', 'a: success', 'b: success']));
    expect(lines.at(-1)).toEqual({ status: 'success', ollama_ring: { nodes: { a: 'success', b: 'success' } } });
  });

  test("push with bad input: Ollama's errors", async () => {
    for (const [body, status, error] of [
      [{}, 400, 'model is required'],
      [{ model: 3 }, 400, "field 'model' must be a string (got number)"],
    ] as const) {
      const res = await fetch(`${g.url}/api/push`, { method: 'POST', body: JSON.stringify(body) });
      expect([res.status, await res.json()]).toEqual([status, { error }]);
    }
    const res = await fetch(`${g.url}/api/push`, { method: 'POST', headers: { 'x-ollama-ring-nodes': 'zz' }, body: JSON.stringify({ model: 'qwen3' }) });
    expect([res.status, await res.json()]).toEqual([400, { error: 'unknown node in x-ollama-ring-nodes: zz' }]);
  });

  test('blobs: HEAD says which nodes lack it; POST stores it on every node; again is 200; HEAD then 200', async () => {
    const data = randomBytes(300_000);
    const digest = sha(data);
    const before = await blob('HEAD', digest);
    expect(before.status).toBe(404);
    expect(before.headers['x-ollama-ring-blob-missing']).toBe('a,b');
    const put = await blob('POST', digest, data);
    expect(put).toMatchObject({ status: 201, body: { status: 'success', ollama_ring: { nodes: { a: 'created', b: 'created' } } } });
    expect([await nodeHas('a', digest), await nodeHas('b', digest)]).toEqual([true, true]);
    const after = await blob('HEAD', digest);
    expect([after.status, after.headers['x-ollama-ring-blob-present']]).toEqual([200, 'a,b']);
    expect(await blob('POST', digest, data)).toMatchObject({ status: 200, body: { ollama_ring: { nodes: { a: 'exists', b: 'exists' } } } });
  });

  test('blobs: to the nodes named by the header only; the others are not asked', async () => {
    const data = randomBytes(10_000);
    const digest = sha(data);
    expect(await blob('POST', digest, data, { 'x-ollama-ring-nodes': 'a' })).toMatchObject({ status: 201, body: { ollama_ring: { nodes: { a: 'created' } } } });
    expect([await nodeHas('a', digest), await nodeHas('b', digest)]).toEqual([true, false]);
    // Asking the whole pool: b lacks it, so a client would upload again (only b receives it).
    expect((await blob('HEAD', digest)).headers['x-ollama-ring-blob-missing']).toBe('b');
    expect(await blob('POST', digest, data)).toMatchObject({ status: 201, body: { ollama_ring: { nodes: { a: 'exists', b: 'created' } } } });
  });

  test('blobs: a bad digest and a mismatch get Ollama-shaped errors; nothing is stored', async () => {
    expect(await blob('POST', 'sha256:abc', Buffer.from('x'))).toMatchObject({ status: 400, body: { error: 'invalid digest format' } });
    expect((await blob('HEAD', 'md5:0')).status).toBe(400);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const r = await blob('POST', wrong, Buffer.from('not those bytes'));
    expect(r.status).toBe(400);
    expect(r.body?.error).toMatch(/^digest mismatch, expected "sha256:0{64}", got "sha256:[0-9a-f]{64}"$/);
    expect([await nodeHas('a', wrong), await nodeHas('b', wrong)]).toEqual([false, false]);
  });

  test('blobs: a 96 MiB body is streamed to both nodes (no size cap, not held in memory), and every node checks the digest', async () => {
    const block = randomBytes(1 << 20);
    const blocks = 96;
    const h = createHash('sha256');
    for (let i = 0; i < blocks; i++) h.update(block);
    const digest = `sha256:${h.digest('hex')}`;
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < blocks; i++) yield block;
      })(),
    );
    const before = process.memoryUsage().arrayBuffers;
    const r = await blob('POST', digest, body, { 'content-length': String(blocks * block.length), 'content-type': 'application/octet-stream' });
    expect(r).toMatchObject({ status: 201, body: { ollama_ring: { nodes: { a: 'created', b: 'created' } } } });
    // The gateway (same process here) never held the blob: far less than its 96 MiB stayed in buffers.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(48 << 20);
    expect([await nodeHas('a', digest), await nodeHas('b', digest)]).toEqual([true, true]);
  }, 60_000);

  test('HEAD /api/blobs needs admin rights too (401 with a token configured)', async () => {
    const t = await startGateway([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], (c) => (c.auth.adminToken = 's3cret'), { routes: allRoutes });
    try {
      const res = await request(`${t.url}/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'HEAD' });
      await res.body.dump();
      expect(res.statusCode).toBe(401);
      const ok = await request(`${t.url}/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'HEAD', headers: { authorization: 'Bearer s3cret' } });
      await ok.body.dump();
      expect(ok.statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});
