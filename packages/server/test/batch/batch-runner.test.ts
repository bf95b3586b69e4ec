import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { allRoutes, BatchRunner, BatchStore, type BatchLine, type LineResult } from '../../src';
import { startGateway } from '../gateway-harness';
import { answers, embedLine, jsonl, until } from './batch-helpers';
import { newJobRecord, type JobRecord } from '../../src/batch/types';
import { eventually, inFlight, startHarness, type Harness } from '../../../balancer/test/e2e/harness';

describe('BatchRunner, embedded over a pipeline', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([
      { id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 4 },
      { id: 'b', models: ['llama3.2', 'nomic-embed-text'], numParallel: 4 },
    ]);
  });
  afterAll(() => h.close());

  test('lines in, one result each out, never more in flight than its concurrency', async () => {
    for (const id of ['a', 'b']) h.sim.node(id).setFaults({ slowdown: 20 });
    const lines: BatchLine[] = Array.from({ length: 12 }, (_, i) => ({
      custom_id: `l${i}`,
      method: 'POST',
      url: i % 2 ? '/api/chat' : '/v1/embeddings',
      body: i % 2 ? { model: 'llama3.2', messages: [{ role: 'user', content: `hi ${i}` }] } : { model: 'nomic-embed-text', input: `x ${i}` },
    }));
    let peak = 0;
    const sampler = setInterval(
      () =>
        (peak = Math.max(
          peak,
          Object.values(inFlight(h)).reduce((a, b) => a + b, 0),
        )),
      2,
    );
    const got: LineResult[] = [];
    const summary = await new BatchRunner(h.factory.getPipeline(), { concurrency: 3 }).run(lines, (r) => void got.push(r));
    clearInterval(sampler);
    for (const id of ['a', 'b']) h.sim.node(id).clearFaults();
    expect(summary).toEqual({ completed: 12, failed: 0, stopped: false });
    expect(got.map((r) => r.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
    const chat = got.find((r) => r.custom_id === 'l1')!;
    expect(chat.status).toBe(200);
    // A native chat line is answered whole, not streamed.
    expect((chat.body as { done: boolean }).done).toBe(true);
    const line = BatchRunner.resultLine(chat);
    expect(line).toMatchObject({ custom_id: 'l1', error: null, response: { status_code: 200 } });
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'nothing in flight');
  });

  test('a signal stops it: no line starts after, the running ones end aborted', async () => {
    for (const id of ['a', 'b']) h.sim.node(id).setFaults({ slowdown: 200 });
    const lines: BatchLine[] = Array.from({ length: 10 }, (_, i) => ({
      custom_id: `c${i}`,
      method: 'POST',
      url: '/api/chat',
      body: { model: 'llama3.2', messages: [{ role: 'user', content: 'x' }] },
    }));
    const ac = new AbortController();
    const got: LineResult[] = [];
    const run = new BatchRunner(h.factory.getPipeline(), { concurrency: 2 }).run(lines, (r) => void got.push(r), { signal: ac.signal });
    await eventually(() => Object.values(inFlight(h)).some((n) => n > 0), 10_000, 'a line in flight');
    ac.abort();
    const summary = await run;
    for (const id of ['a', 'b']) h.sim.node(id).clearFaults();
    expect(summary.stopped).toBe(true);
    expect(got.length).toBeLessThanOrEqual(2);
    expect(got.every((r) => r.aborted)).toBe(true);
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'nothing in flight');
  });
});

describe('the store’s retention sweep', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'batch-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('deletes finished jobs past retention with their files, keeps running jobs and their inputs', async () => {
    const store = await BatchStore.open(dir);
    const day = 86_400;
    const now = Math.floor(Date.now() / 1000);
    const tmp = await store.tempPath();
    const file = (id: string, created: number) => ({
      id,
      object: 'file' as const,
      bytes: 1,
      created_at: created,
      filename: 'x',
      purpose: 'batch' as const,
      status: 'processed' as const,
      expires_at: null,
      status_details: null,
    });
    writeFileSync(tmp, 'x');
    const oldInput = await store.addUpload('o', tmp, { bytes: 1, created_at: now - 10 * day, filename: 'old.jsonl', purpose: 'batch', expires_at: null });
    writeFileSync(store.contentPath('file-out'), 'x');
    await store.addFile('o', { ...file('file-out', now - 10 * day), purpose: 'batch_output' });
    const job = (id: string, status: JobRecord['batch']['status'], input: string, ended: number | null): JobRecord => ({
      owner: 'o',
      outputId: id === 'batch_old' ? 'file-out' : `${id}-out`,
      errorId: `${id}-err`,
      batch: { id, status, input_file_id: input, completed_at: ended, failed_at: null, cancelled_at: null, expired_at: null } as JobRecord['batch'],
    });
    await store.saveJob(job('batch_old', 'completed', 'file-gone', now - 9 * day));
    await store.saveJob(job('batch_running', 'in_progress', oldInput.file.id, null));
    const gone = await store.sweep(Date.now(), 7 * day * 1000);
    expect(gone).toEqual({ jobs: 1, files: 0 });
    expect(store.jobs.has('batch_old')).toBe(false);
    expect(store.files.has('file-out')).toBe(false);
    expect(existsSync(store.contentPath('file-out'))).toBe(false);
    // The running job's input is old too, but it is still being read.
    expect(store.files.has(oldInput.file.id)).toBe(true);
    // What the sweep did is on disk: a store opened afresh sees the same.
    const again = await BatchStore.open(dir);
    expect([...again.jobs.keys()]).toEqual(['batch_running']);
    expect([...again.files.keys()]).toEqual([oldInput.file.id]);
  });
});

describe('a job past its completion window when the gateway starts', () => {
  test('expires: every line not answered goes to the error file as batch_expired', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'batch-expired-'));
    const store = await BatchStore.open(dir);
    const tmp = await store.tempPath();
    writeFileSync(tmp, jsonl(['e1', 'e2', 'e3'].map(embedLine)));
    const input = await store.addUpload('anyone', tmp, { bytes: 1, created_at: 0, filename: 'in.jsonl', purpose: 'batch', expires_at: null });
    const now = Math.floor(Date.now() / 1000);
    // A job made 25 h ago and running since: past its 24 h window.
    const made = newJobRecord(
      { id: 'batch_expired', outputId: 'file-exp-out', errorId: 'file-exp-err' },
      'anyone',
      { input_file_id: input.file.id, endpoint: '/v1/embeddings', completion_window: '24h', metadata: null },
      now - 90_000,
    );
    const batch = { ...made.batch, status: 'in_progress' as const, in_progress_at: now - 90_000, request_counts: { total: 3, completed: 0, failed: 0 } };
    await store.saveJob({ ...made, batch });
    const g = await startGateway([{ id: 'a', models: ['nomic-embed-text'] }], (c) => (c.batch.dataDir = dir), { routes: allRoutes });
    try {
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const b = await until(client, 'batch_expired');
      expect(b.status).toBe('expired');
      expect(b.expired_at).not.toBeNull();
      expect(b.request_counts).toEqual({ total: 3, completed: 0, failed: 3 });
      const { err } = await answers(client, b);
      expect(err.map((r) => [r.custom_id, r.error?.code, r.response]).sort()).toEqual([
        ['e1', 'batch_expired', null],
        ['e2', 'batch_expired', null],
        ['e3', 'batch_expired', null],
      ]);
    } finally {
      await g.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
