import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { eventually, inFlight } from '../../../balancer/test/e2e/harness';
import { answers, chatLine, embedLine, jsonl, results, until, upload } from './batch-helpers';

describe('the OpenAI Batch API, through the unchanged openai client', () => {
  let g: GatewayHarness;
  let dir: string;
  let client: OpenAI;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'batch-api-'));
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 },
        { id: 'b', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 },
      ],
      (c) => {
        c.batch.dataDir = dir;
        c.batch.maxFileBytes = 64 * 1024;
      },
      { routes: allRoutes },
    );
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await g.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const id of ['a', 'b']) g.sim.node(id).clearFaults();
    await eventually(() => Object.values(inFlight(g)).every((n) => n === 0), 10_000, 'no request in flight');
  });

  test('a whole batch of chat lines: upload, create, poll, read the output', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `chat-${i}`);
    const input = await upload(client, jsonl(ids.map((id) => chatLine(id))));
    const file = await client.files.retrieve(input);
    expect(file).toMatchObject({ id: input, object: 'file', purpose: 'batch', filename: 'input.jsonl' });
    const created = await client.batches.create({ input_file_id: input, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'nightly' } });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', input_file_id: input, endpoint: '/v1/chat/completions', metadata: { job: 'nightly' } });
    const b = await until(client, created.id);
    expect(b.status).toBe('completed');
    expect(b.request_counts).toEqual({ total: 8, completed: 8, failed: 0 });
    expect(b.error_file_id).toBeNull();
    expect(b.completed_at).toBeGreaterThanOrEqual(b.created_at);
    const out = await results(client, b.output_file_id);
    expect(out.map((r) => r.custom_id).sort()).toEqual([...ids].sort());
    for (const r of out) {
      expect(r.error).toBeNull();
      expect(r.id).toMatch(/^batch_req_/);
      expect(r.response?.status_code).toBe(200);
      const choice = (r.response?.body.choices as { message: { content: string } }[])[0];
      expect(choice.message.content.length).toBeGreaterThan(0);
    }
    expect((await client.files.retrieve(b.output_file_id!)).purpose).toBe('batch_output');
  });

  test('embedding lines, and native /api/embed lines', async () => {
    const ids = ['e1', 'e2', 'e3'];
    const b = await until(
      client,
      (await client.batches.create({ input_file_id: await upload(client, jsonl(ids.map(embedLine))), endpoint: '/v1/embeddings', completion_window: '24h' })).id,
    );
    expect(b.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    for (const r of await results(client, b.output_file_id)) {
      const data = r.response?.body.data as { embedding: number[] }[];
      expect(data[0].embedding).toHaveLength(8);
    }
    const native = jsonl(ids.map((id) => ({ custom_id: id, method: 'POST', url: '/api/embed', body: { model: 'nomic-embed-text', input: id } })));
    const n = await until(client, (await client.batches.create({ input_file_id: await upload(client, native), endpoint: '/api/embed' as never, completion_window: '24h' })).id);
    expect(n.request_counts?.completed).toBe(3);
    for (const r of await results(client, n.output_file_id)) expect((r.response?.body.embeddings as number[][])[0]).toHaveLength(8);
  });

  test('a line the pool answers with an error goes to the error file, in the endpoint’s error shape', async () => {
    const lines = [chatLine('ok-1'), { ...chatLine('missing'), body: { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] } }, chatLine('ok-2')];
    const b = await until(
      client,
      (await client.batches.create({ input_file_id: await upload(client, jsonl(lines)), endpoint: '/v1/chat/completions', completion_window: '24h' })).id,
    );
    expect(b.status).toBe('completed');
    expect(b.request_counts).toEqual({ total: 3, completed: 2, failed: 1 });
    const { out, err } = await answers(client, b);
    expect(out.map((r) => r.custom_id).sort()).toEqual(['ok-1', 'ok-2']);
    expect(err).toHaveLength(1);
    expect(err[0].custom_id).toBe('missing');
    expect(err[0].response?.status_code).toBe(404);
    expect(err[0].response?.body).toMatchObject({ error: { message: expect.stringContaining('no-such-model') } });
  });

  test('lists batches newest first, with after and limit', async () => {
    const input = await upload(client, jsonl([embedLine('x')]));
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await client.batches.create({ input_file_id: input, endpoint: '/v1/embeddings', completion_window: '24h' })).id);
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([made[2], made[1]]);
    expect(first.hasNextPage()).toBe(true);
    const second = await client.batches.list({ limit: 2, after: made[1] });
    expect(second.data[0].id).toBe(made[0]);
    // The client's own pagination walks every page.
    const all: string[] = [];
    for await (const b of client.batches.list({ limit: 2 })) all.push(b.id);
    expect(all.slice(0, 3)).toEqual([made[2], made[1], made[0]]);
    expect(new Set(all).size).toBe(all.length);
    for (const id of made) await until(client, id);
  });

  test('a file with bad lines fails validation, each bad line named with its number and reason', async () => {
    const text = jsonl([
      chatLine('a'),
      '{not json',
      { method: 'POST', url: '/v1/chat/completions', body: { model: 'llama3.2', messages: [] } },
      chatLine('a'),
      { ...chatLine('b'), url: '/v1/embeddings' },
      { ...chatLine('c'), method: 'GET' },
      { ...chatLine('d'), body: { messages: [] } },
    ]);
    const b = await until(client, (await client.batches.create({ input_file_id: await upload(client, text), endpoint: '/v1/chat/completions', completion_window: '24h' })).id);
    expect(b.status).toBe('failed');
    expect(b.failed_at).not.toBeNull();
    expect(b.output_file_id).toBeNull();
    const errs = b.errors?.data ?? [];
    expect(errs.map((e) => [e.line, e.code])).toEqual([
      [2, 'invalid_json_line'],
      [3, 'missing_required_parameter'],
      [4, 'duplicate_custom_id'],
      [5, 'mismatched_endpoint'],
      [6, 'invalid_method'],
      [7, 'missing_required_parameter'],
    ]);
    expect(errs[2].message).toContain("custom_id 'a'");
    expect(errs[5].param).toBe('body.model');
  });

  test('bad requests get OpenAI errors: no such file, wrong endpoint or window, a file too large, no multipart', async () => {
    await expect(client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });
    const input = await upload(client, jsonl([chatLine('a')]));
    await expect(client.batches.create({ input_file_id: input, endpoint: '/v1/moderations' as never, completion_window: '24h' })).rejects.toMatchObject({ status: 400 });
    await expect(client.batches.create({ input_file_id: input, endpoint: '/v1/chat/completions', completion_window: '1h' as never })).rejects.toMatchObject({ status: 400 });
    await expect(upload(client, 'x'.repeat(70 * 1024))).rejects.toMatchObject({ status: 413 });
    const res = await fetch(`${g.url}/v1/files`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('multipart');
    await expect(client.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404 });
  });

  test('files: list, content, delete', async () => {
    const text = jsonl([chatLine('f1')]);
    const id = await upload(client, text);
    expect(await (await client.files.content(id)).text()).toBe(text);
    const listed = await client.files.list({ purpose: 'batch' });
    expect(listed.data.map((f) => f.id)).toContain(id);
    expect(await client.files.delete(id)).toMatchObject({ id, deleted: true });
    await expect(client.files.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });

  test('cancel mid-run: no line starts after it, running ones are aborted, every line answered once', async () => {
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ slowdown: 100 });
    const ids = Array.from({ length: 20 }, (_, i) => `slow-${i}`);
    const created = await client.batches.create({
      input_file_id: await upload(client, jsonl(ids.map((id) => chatLine(id)))),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await until(client, created.id, (b) => b.status === 'in_progress');
    await eventually(() => Object.values(inFlight(g)).some((n) => n > 0), 10_000, 'a line in flight');
    // The job's lines, by state, read at scrape time.
    const scrape = await (await fetch(`${g.url}/metrics`)).text();
    const gauge = (state: string) => Number(new RegExp(`ollama_lb_batch_lines\\{batch="${created.id}",state="${state}"\\} (\\d+)`).exec(scrape)?.[1]);
    expect(gauge('running')).toBeGreaterThan(0);
    expect(gauge('queued') + gauge('running') + gauge('done') + gauge('failed')).toBe(20);
    const c = await client.batches.cancel(created.id);
    expect(['cancelling', 'cancelled']).toContain(c.status);
    const b = await until(client, created.id);
    expect(b.status).toBe('cancelled');
    expect(b.cancelled_at).not.toBeNull();
    const { err, counts } = await answers(client, b);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(err.some((r) => r.error?.code === 'batch_cancelled')).toBe(true);
    expect((b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0)).toBe(20);
    await expect(client.batches.cancel(created.id)).rejects.toMatchObject({ status: 409 });
  });

  test('a node failing mid-batch: its lines are retried on the other, every line answered once', async () => {
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ slowdown: 20 });
    const ids = Array.from({ length: 16 }, (_, i) => `f-${i}`);
    const created = await client.batches.create({
      input_file_id: await upload(client, jsonl(ids.map((id) => chatLine(id)))),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await until(client, created.id, (b) => (b.request_counts?.completed ?? 0) >= 2);
    g.sim.node('a').setFaults({ closeMidStream: { afterTokens: 1 }, refuse: {} });
    const b = await until(client, created.id, undefined, 60_000);
    g.sim.node('a').clearFaults();
    await g.sim.node('a').accept();
    expect(b.status).toBe('completed');
    const { out, counts } = await answers(client, b);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(out).toHaveLength(16);
  });
});

describe('with API keys, a batch belongs to the key that made it', () => {
  let g: GatewayHarness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'batch-keys-'));
    g = await startGateway(
      [{ id: 'a', models: ['nomic-embed-text'], numParallel: 2 }],
      (c) => {
        c.batch.dataDir = dir;
        c.auth.apiKeys = [{ key: 'k1' }, { key: 'k2' }];
      },
      { routes: allRoutes },
    );
  });
  afterAll(async () => {
    await g.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('another key sees neither its files nor its batches; no key is 401', async () => {
    const one = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k1', maxRetries: 0 });
    const two = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k2', maxRetries: 0 });
    const input = await upload(one, jsonl([embedLine('x')]));
    await expect(two.files.retrieve(input)).rejects.toMatchObject({ status: 404 });
    await expect(two.batches.create({ input_file_id: input, endpoint: '/v1/embeddings', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });
    const b = await one.batches.create({ input_file_id: input, endpoint: '/v1/embeddings', completion_window: '24h' });
    await expect(two.batches.retrieve(b.id)).rejects.toMatchObject({ status: 404 });
    expect((await two.batches.list()).data).toEqual([]);
    expect((await until(one, b.id)).status).toBe('completed');
    const bad = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await expect(bad.batches.list()).rejects.toMatchObject({ status: 401 });
  });
});
