import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Batch } from 'openai/resources/batches';
import { killGatewayProcess, type GatewayProcess, startGatewayProcess, stopGatewayProcess } from '../../../../bench/src/replicas/gateway-process';
import { redisClient, startRedis, type RedisServer } from '../../../balancer/test/redis-server';
import { answers, chatLine, jsonl, until, upload } from '../batch/batch-helpers';
import { getJson, type ReplicaGateways, startReplicaGateways } from './replica-gateways';

/**
 * Three `ollama-ring serve` processes on one Redis and one batch data directory: a batch job or a
 * workflow run made on one replica is seen and cancelled on the others, and one whose replica died
 * (SIGKILL) or stalled (SIGSTOP past its lease) is finished by another, every line answered once.
 */
const EMBED = 'nomic-embed-text';

describe('gateway replicas sharing batch jobs and workflow runs', () => {
  let redis: RedisServer;
  let r: ReplicaGateways;
  let dataDir: string;
  let probe: ReturnType<typeof redisClient>;
  beforeAll(async () => {
    redis = await startRedis();
    probe = redisClient(redis.url);
    dataDir = mkdtempSync(join(tmpdir(), 'ring-replica-batches-'));
    r = await startReplicaGateways(
      3,
      [
        { id: 'a', models: ['llama3.2', EMBED], numParallel: 2 },
        { id: 'b', models: ['llama3.2', EMBED], numParallel: 2 },
      ],
      redis.url,
      'jobs:',
      { batch: { dataDir, concurrency: 4 }, autobatch: { jobs: { chunkSize: 4 } } },
      [
        { name: 'llama3.2', loadMs: 2000 },
        { name: EMBED, capabilities: ['embedding'], loadMs: 200 },
      ],
    );
  });
  afterAll(async () => {
    probe?.disconnect();
    await r?.close();
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  afterEach(() => {
    for (const n of ['a', 'b']) r.sim.node(n).clearFaults();
  });

  const client = (g: GatewayProcess): OpenAI => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const slow = (): void => {
    for (const n of ['a', 'b']) r.sim.node(n).setFaults({ slowdown: 30 });
  };
  const fast = (): void => {
    for (const n of ['a', 'b']) r.sim.node(n).clearFaults();
  };
  const createBatch = async (g: GatewayProcess, prefix: string, n: number): Promise<{ id: string; ids: string[] }> => {
    const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const c = client(g);
    const b = await c.batches.create({ input_file_id: await upload(c, jsonl(ids.map((id) => chatLine(id)))), endpoint: '/v1/chat/completions', completion_window: '24h' });
    return { id: b.id, ids };
  };
  /** Every custom_id exactly once over the batch's output and error files, read through `g`. */
  const expectExactlyOnce = async (g: GatewayProcess, b: Batch, ids: string[]): Promise<void> => {
    const { out, err, counts } = await answers(client(g), b);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(out.length + err.length).toBe(ids.length);
  };
  /** Whether `g` logged that it took over job `id`. */
  const tookOver = (g: GatewayProcess, id: string): boolean =>
    g
      .output()
      .split('\n')
      .some((l) => l.includes('taken over') && l.includes(id));
  const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  type Run = { id: string; status: string; tasks: Record<string, { status: string; output?: unknown; resumed?: boolean }> };
  const call = async (g: GatewayProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: Run }> => {
    const res = await fetch(`${g.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Run };
  };
  const runUntil = async (g: GatewayProcess, id: string, ok: (x: Run) => boolean): Promise<Run> => {
    let last: Run | undefined;
    await waitFor(`workflow ${id}`, async () => ok((last = (await call(g, 'GET', `/api/workflows/${id}`)).json)), 60_000);
    return last!;
  };
  /** `quick` succeeds; `slow` (a chat) hangs while the nodes hang chats; `last` needs both. */
  const FLOW =
    'name: r\ntasks:\n  - { id: quick, method: llm/generate, params: { model: llama3.2, prompt: q } }\n  - { id: slow, method: llm/chat, params: { model: llama3.2, messages: [{ role: user, content: s }] } }\n  - { id: last, method: llm/generate, params: { model: llama3.2, prompt: "{{ tasks.slow.output }} {{ tasks.quick.output }}" } }\n';

  test('a batch made on one replica is listed, followed and cancelled through another; the cancel reaches the replica running it', async () => {
    const [g0, g1] = r.gateways;
    slow();
    const { id, ids } = await createBatch(g1, 'cancel', 40);
    // Seen on g0 at once, its counts read from the shared logs while g1 runs it.
    expect((await client(g0).batches.list()).data.map((b) => b.id)).toContain(id);
    const mid = await until(client(g0), id, (b) => (b.request_counts?.completed ?? 0) >= 3, 60_000);
    expect(mid.status).toBe('in_progress');
    expect(await probe.get(`jobs:lease:batch:${id}`)).toMatch(/#/);

    const asked = await client(g0).batches.cancel(id);
    expect(asked.status).toBe('cancelling');
    const b = await until(client(g0), id, undefined, 60_000);
    expect(b.status).toBe('cancelled');
    expect(b.request_counts?.total).toBe(40);
    expect((b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0)).toBe(40);
    await expectExactlyOnce(g0, b, ids);
    const { err } = await answers(client(g0), b);
    expect(err.length).toBeGreaterThan(0);
    expect(err.every((l) => l.error?.code === 'batch_cancelled')).toBe(true);
    // Run by g1 alone (it made it), and its lease given back when it ended.
    expect(tookOver(g0, id) || tookOver(g1, id)).toBe(false);
    await waitFor('the lease given back', async () => (await probe.exists(`jobs:lease:batch:${id}`)) === 0);
  });

  test('an embedding job queued on one replica is followed and its vectors fetched through another', async () => {
    const [g0, g1] = r.gateways;
    const docs = Array.from({ length: 18 }, (_, i) => `doc ${i}`);
    const post = await fetch(`${g0.url}/api/embed/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: EMBED, docs, dimensions: 4 }),
    });
    expect(post.status).toBe(202);
    const id = ((await post.json()) as { id: string }).id;
    await waitFor('the embedding job', async () => (await getJson(g1.url, `/api/batch-status/${id}`)).body.status === 'completed');
    expect((await getJson(g1.url, `/api/batch-status/${id}`)).body).toMatchObject({ total: 18, embedded: 18, failed: 0 });
    const results = await getJson(g1.url, `/api/embed/batch/${id}/results`);
    expect(results.status).toBe(200);
    const direct = await fetch(`${r.sim.nodes[0].url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: EMBED, input: docs, dimensions: 4 }) });
    expect(results.body.embeddings).toEqual(((await direct.json()) as { embeddings: number[][] }).embeddings);
    expect(((await getJson(g1.url, '/api/batch-status')).body.jobs as { id: string }[]).map((j) => j.id)).toContain(id);
  });

  test('a workflow run started on one replica is cancelled through another', async () => {
    const [g0, g1] = r.gateways;
    for (const n of ['a', 'b']) r.sim.node(n).setFaults({ hang: { paths: ['/api/chat'] } });
    const post = await call(g0, 'POST', '/api/workflows', { workflow: FLOW });
    expect(post.status).toBe(201);
    const id = post.json.id;
    // The quick task (a generate, not hung) runs beside the slow one: cancelled only once it is done.
    await runUntil(g1, id, (x) => x.tasks.slow.status === 'running' && x.tasks.quick.status === 'succeeded');
    expect((await call(g1, 'DELETE', `/api/workflows/${id}`)).status).toBe(202);
    const done = await runUntil(g1, id, (x) => x.status !== 'running');
    expect(done.status).toBe('cancelled');
    expect(done.tasks.quick.status).toBe('succeeded');
    expect(done.tasks.slow.status).toBe('cancelled');
    expect((await call(g0, 'DELETE', `/api/workflows/${id}`)).status).toBe(409);
    await waitFor('the nodes to see the abort', () => r.sim.state().every((s) => s.inferenceInFlight === 0), 10_000);
  });

  test('a replica stalled past its lease (SIGSTOP) stops writing once it runs again; another finishes the batch, every line once', async () => {
    const [g0, g1, g2] = r.gateways;
    slow();
    const { id, ids } = await createBatch(g0, 'stall', 30);
    await until(client(g1), id, (b) => (b.request_counts?.completed ?? 0) >= 3, 60_000);
    g0.proc.kill('SIGSTOP');
    try {
      // Its lease expires unrenewed (TTL 3 s), and g1 or g2 takes the job.
      await waitFor('another replica to take the batch over', () => tookOver(g1, id) || tookOver(g2, id), 30_000);
    } finally {
      g0.proc.kill('SIGCONT');
    }
    fast();
    const b = await until(client(g2), id, undefined, 60_000);
    expect(b.status).toBe('completed');
    expect(b.request_counts).toEqual({ total: 30, completed: 30, failed: 0 });
    await expectExactlyOnce(g1, b, ids);
    // g0 woke up with lines in flight: their answers are not written, its job stopped.
    await waitFor('g0 to notice its lease is lost', () => g0.output().includes('its lease is lost'), 15_000);
    expect((await getJson(g0.url, '/health')).status).toBe(200);
  });

  test('a replica stopped with SIGTERM mid-batch gives the lease back as it stops; another finishes the batch, every line once', async () => {
    const [, g1, g2] = r.gateways;
    const extra = await startGatewayProcess(r.configFile);
    try {
      slow();
      const { id, ids } = await createBatch(extra, 'term', 24);
      await until(client(g1), id, (b) => (b.request_counts?.completed ?? 0) >= 3, 60_000);
      await stopGatewayProcess(extra);
      // Given back, not left to expire: no line of it was cut off by a lost lease.
      expect(extra.output()).not.toContain('its lease is lost');
      fast();
      const b = await until(client(g2), id, undefined, 60_000);
      expect(b.status).toBe('completed');
      expect(b.request_counts).toEqual({ total: 24, completed: 24, failed: 0 });
      await expectExactlyOnce(g1, b, ids);
      expect(r.gateways.some((g) => tookOver(g, id))).toBe(true);
    } finally {
      await stopGatewayProcess(extra);
    }
  });

  test('a replica killed with SIGKILL mid-batch: another takes the batch over within the lease TTL and finishes it, every line once', async () => {
    const [g0, g1, g2] = r.gateways;
    slow();
    const { id, ids } = await createBatch(g0, 'kill', 30);
    const mid = await until(client(g1), id, (b) => (b.request_counts?.completed ?? 0) >= 5, 60_000);
    expect(mid.status).toBe('in_progress');
    await killGatewayProcess(g0);
    fast();
    await waitFor('another replica to take the batch over', () => tookOver(g1, id) || tookOver(g2, id), 15_000);
    const b = await until(client(g2), id, undefined, 60_000);
    expect(b.status).toBe('completed');
    expect(b.request_counts).toEqual({ total: 30, completed: 30, failed: 0 });
    await expectExactlyOnce(g1, b, ids);
    const { out } = await answers(client(g1), b);
    for (const line of out) expect(line.response?.status_code).toBe(200);
  });

  test('a workflow run whose replica was killed is resumed by another, keeping the tasks that had succeeded', async () => {
    const [, g1, g2] = r.gateways;
    // `slow` hangs until g1 dies; `quick` succeeds before.
    for (const n of ['a', 'b']) r.sim.node(n).setFaults({ hang: { paths: ['/api/chat'] } });
    const post = await call(g1, 'POST', '/api/workflows', { workflow: FLOW });
    expect(post.status).toBe(201);
    const id = post.json.id;
    // Followed through g2 while g1 runs it.
    const mid = await runUntil(g2, id, (x) => x.tasks.quick.status === 'succeeded' && x.tasks.slow.status === 'running');
    await killGatewayProcess(g1);
    for (const n of ['a', 'b']) r.sim.node(n).clearFaults();
    const done = await runUntil(g2, id, (x) => x.status !== 'running');
    expect(done.status).toBe('succeeded');
    expect(done.tasks.quick).toMatchObject({ status: 'succeeded', resumed: true, output: mid.tasks.quick.output });
    expect(done.tasks.slow.status).toBe('succeeded');
    expect(done.tasks.last.status).toBe('succeeded');
    expect(tookOver(g2, id)).toBe(true);
  });

  test('a replica on redis refuses a data directory a gateway on the memory backend holds alone', async () => {
    const held = join(dataDir, 'held');
    mkdirSync(held);
    // This test process, alive on this host, as a memory-backend gateway's lock names its holder.
    writeFileSync(join(held, 'lock'), JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    const g = await startGatewayProcess(r.configFile, { OLLAMA_RING_BATCH_DIR: held });
    try {
      const res = await fetch(`${g.url}/v1/batches`);
      const body = (await res.json()) as { error?: { message?: string; code?: string } };
      expect(res.status).toBe(500);
      expect(JSON.stringify(body)).toContain('replicas on redis share a data directory only with each other');
    } finally {
      await stopGatewayProcess(g);
    }
  });
});
