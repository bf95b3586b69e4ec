import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inFlight } from '../../balancer/test/e2e/harness';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

// The background embedding jobs, end to end against the emulator: POST /api/embed/batch queues the
// documents, /api/batch-status follows the job, and its results are every document's vector, in order.
// The jobs run as batch jobs of the gateway's store (a restart mid-job: embed-jobs-crash.test.ts).

const MODEL = 'nomic-embed-text';

async function call(url: string, method: 'GET' | 'POST', path: string, body?: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const res = await fetch(url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The job's status once it has finished (polled; fails the test after 10 s). */
async function finished(h: GatewayHarness, id: string, key?: string): Promise<Record<string, unknown>> {
  const end = Date.now() + 10_000;
  for (;;) {
    const s = (await call(h.url, 'GET', `/api/batch-status/${id}`, undefined, key)).body;
    if (s.status === 'completed' || s.status === 'failed') return s;
    if (Date.now() > end) throw new Error(`job ${id} still ${String(s.status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'embed-jobs-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('/api/embed/batch', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway(
      [
        { id: 'a', models: [MODEL] },
        { id: 'b', models: [MODEL] },
      ],
      (c) => {
        c.autobatch.jobs.chunkSize = 4;
        c.autobatch.jobs.maxDocs = 50;
        c.batch.dataDir = join(dir, 'jobs');
      },
      { routes: allRoutes },
    );
  });
  afterAll(() => h.close());

  it('embeds the queued documents in the background and gives their vectors in order', async () => {
    const docs = Array.from({ length: 18 }, (_, i) => `doc ${i}`);
    const made = await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs, dimensions: 4 });
    expect(made.status).toBe(202);
    const id = made.body.id as string;
    expect(made.body).toMatchObject({ model: MODEL, total: 18, status_url: `/api/batch-status/${id}`, results_url: `/api/embed/batch/${id}/results` });
    const done = await finished(h, id);
    expect(done).toMatchObject({ status: 'completed', total: 18, embedded: 18, failed: 0 });
    const results = await call(h.url, 'GET', `/api/embed/batch/${id}/results`);
    expect(results.status).toBe(200);
    const direct = await fetch(`${h.sim.nodes[0].url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: MODEL, input: docs, dimensions: 4 }) });
    expect(results.body.embeddings).toEqual(((await direct.json()) as { embeddings: number[][] }).embeddings);
    expect(results.body.promptTokens).toBeGreaterThan(0);
    const list = await call(h.url, 'GET', '/api/batch-status');
    expect(list.body.persistent).toBe(true);
    expect((list.body.jobs as { id: string }[]).map((j) => j.id)).toContain(id);
    expect((list.body.counts as Record<string, number>).completed).toBeGreaterThanOrEqual(1);
    expect(Object.values(inFlight(h)).every((n) => n === 0)).toBe(true);
  });

  it('a job whose calls fail is failed, and has no results', async () => {
    const made = await call(h.url, 'POST', '/api/embed/batch', { model: 'not-installed', docs: ['a', 'b'] });
    expect(made.status).toBe(202);
    const done = await finished(h, made.body.id as string);
    expect(done).toMatchObject({ status: 'failed', failed: 2 });
    expect(typeof done.error).toBe('string');
    const results = await call(h.url, 'GET', `/api/embed/batch/${made.body.id as string}/results`);
    expect(results.status).toBe(409);
    expect(results.body.error).toMatch(/failed/);
  });

  it('refuses bad input and unknown jobs clearly', async () => {
    for (const body of [{ model: MODEL }, { model: MODEL, docs: [] }, { model: MODEL, docs: ['a', 3] }, { docs: ['a'] }, { model: MODEL, docs: 'a' }]) {
      const r = await call(h.url, 'POST', '/api/embed/batch', body);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/docs/);
    }
    const big = await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs: Array.from({ length: 51 }, () => 'x') });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/autobatch\.jobs\.maxDocs/);
    const unknown = await call(h.url, 'GET', '/api/batch-status/embed-nope');
    expect(unknown.status).toBe(404);
    expect((await call(h.url, 'GET', '/api/embed/batch/embed-nope/results')).status).toBe(404);
  });
});

describe('/api/embed/batch while a job runs', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway(
      [{ id: 'a', models: [MODEL], embedCallMs: 2_000 }],
      (c) => {
        c.autobatch.jobs.chunkSize = 2;
        c.autobatch.jobs.maxJobs = 1;
        c.batch.dataDir = join(dir, 'bounds');
        c.batch.concurrency = 1;
      },
      { routes: allRoutes },
    );
  });
  afterAll(() => h.close());

  it('has no results before it completes, refuses a job past maxJobs, and is a batch of /v1/batches too', async () => {
    // 40 ms a chunk at the emulator's time scale; slowed so that the job is still running below.
    h.sim.nodes[0].setFaults({ slowdown: 50 });
    const docs = Array.from({ length: 8 }, (_, i) => `text ${i}`);
    const made = await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs });
    expect(made.status).toBe(202);
    const id = made.body.id as string;

    const early = await call(h.url, 'GET', `/api/embed/batch/${id}/results`);
    expect(early.status).toBe(409);
    expect(early.body.error).toMatch(/queued|running/);

    const refused = await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs: ['one more'] });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/autobatch\.jobs\.maxJobs/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // While it runs, documents are counted in whole chunks of two.
    const running = await call(h.url, 'GET', `/api/batch-status/${id}`);
    expect(['queued', 'running']).toContain(running.body.status);
    expect((running.body.embedded as number) % 2).toBe(0);
    expect(running.body.embedded as number).toBeLessThan(8);

    const batch = await call(h.url, 'GET', `/v1/batches/${id}`);
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ endpoint: '/api/embed', metadata: { kind: 'embed', model: MODEL, docs: '8', chunk: '2' } });

    h.sim.nodes[0].setFaults({ slowdown: 1 });
    expect(await finished(h, id)).toMatchObject({ status: 'completed', total: 8, embedded: 8, failed: 0 });
    const results = await call(h.url, 'GET', `/api/embed/batch/${id}/results`);
    expect(results.status).toBe(200);
    expect(results.body.embeddings).toHaveLength(8);
    // The job finished: there is room for the next one.
    const next = await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs: ['one more'] });
    expect(next.status).toBe(202);
    await finished(h, next.body.id as string);
    expect(Object.values(inFlight(h)).every((n) => n === 0)).toBe(true);
  });
});

describe('/api/embed/batch with API keys', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway(
      [{ id: 'a', models: [MODEL], embedCallMs: 2_000 }],
      (c) => {
        c.auth.apiKeys = [{ key: 'key-a' }, { key: 'key-b' }];
        c.autobatch.jobs.chunkSize = 2;
        c.batch.dataDir = join(dir, 'keys');
        c.batch.concurrency = 1;
      },
      { routes: allRoutes },
    );
  });
  afterAll(() => h.close());

  it('shows a job to the key that made it only, and a job cancelled as a batch is failed', async () => {
    h.sim.nodes[0].setFaults({ slowdown: 50 });
    expect((await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs: ['a'] })).status).toBe(401);
    const made = await call(h.url, 'POST', '/api/embed/batch', { model: MODEL, docs: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'key-a');
    expect(made.status).toBe(202);
    const id = made.body.id as string;
    expect((await call(h.url, 'GET', `/api/batch-status/${id}`, undefined, 'key-b')).status).toBe(404);
    expect((await call(h.url, 'GET', `/api/embed/batch/${id}/results`, undefined, 'key-b')).status).toBe(404);
    expect((await call(h.url, 'GET', '/api/batch-status', undefined, 'key-b')).body.jobs).toEqual([]);
    const mine = (await call(h.url, 'GET', '/api/batch-status', undefined, 'key-a')).body.jobs as { id: string }[];
    expect(mine.map((j) => j.id)).toEqual([id]);

    // Cancelled through the Batch API while its first chunk runs: the chunks not run are failed.
    expect((await call(h.url, 'POST', `/v1/batches/${id}/cancel`, {}, 'key-a')).status).toBe(200);
    h.sim.nodes[0].setFaults({ slowdown: 1 });
    const done = await finished(h, id, 'key-a');
    expect(done).toMatchObject({ status: 'failed', total: 6 });
    expect(done.error).toMatch(/cancelled/);
    expect((done.embedded as number) + (done.failed as number)).toBe(6);
    expect((done.failed as number) % 2).toBe(0);
    expect(done.failed as number).toBeGreaterThan(0);
    expect((await call(h.url, 'GET', `/api/embed/batch/${id}/results`, undefined, 'key-a')).status).toBe(409);
    expect(Object.values(inFlight(h)).every((n) => n === 0)).toBe(true);
  });
});
