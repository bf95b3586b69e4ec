import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { serve } from './serve-harness';

// An /api/embed/batch job survives its gateway: killed with SIGKILL mid-job and restarted on the
// same data dir, the job finishes, each chunk embedded exactly once, every vector in its place.

const MODEL = 'nomic-embed-text';

async function get(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Polls the job's status until `done` holds (fails the test after `ms`). */
async function until(url: string, id: string, done: (s: Record<string, unknown>) => boolean, ms = 60_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await get(`${url}/api/batch-status/${id}`);
    if (done(s)) return s;
    if (Date.now() > end) throw new Error(`job ${id} still ${JSON.stringify(s)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('an embedding job whose gateway is killed mid-job', () => {
  let sim: SimPool;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'embed-crash-'));
    sim = await startSimPool({
      timeScale: 0.02,
      models: [{ name: MODEL, loadMs: 200, capabilities: ['embedding'], embeddingLength: 8, embedCallMs: 2_000 }],
      nodes: [
        { id: 'a', models: [MODEL], numParallel: 2 },
        { id: 'b', models: [MODEL], numParallel: 2 },
      ],
    });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('restarted on the same data dir, it finishes with every document embedded once and in order', async () => {
    // A chunk takes 40 ms × 30: chunks are in flight when the process dies.
    for (const n of sim.nodes) n.setFaults({ slowdown: 30 });
    const cfg = join(dir, 'gateway.yaml');
    const nodes = sim.nodes.map((n) => `  - { id: ${n.id}, url: "${n.url}", maxConcurrentRequests: 2 }`).join('\n');
    writeFileSync(cfg, `server: { port: 0 }\nnodes:\n${nodes}\nbatch: { dataDir: "${join(dir, 'data')}" }\nautobatch: { jobs: { chunkSize: 2 } }\nlogging: { level: info }\n`);
    const docs = Array.from({ length: 40 }, (_, i) => `document number ${i}`);

    const first = await serve(cfg);
    children.push(first.proc);
    const made = await fetch(`${first.url}/api/embed/batch`, { method: 'POST', body: JSON.stringify({ model: MODEL, docs }) });
    expect(made.status).toBe(202);
    const id = ((await made.json()) as { id: string }).id;
    const mid = await until(first.url, id, (s) => (s.embedded as number) >= 8);
    expect(mid.status).toBe('running');
    first.proc.kill('SIGKILL');
    await first.exited;

    // What the dead process left: some chunks answered, not all; and a torn last line, as a crash in
    // the middle of a write would leave, which the restart must cut off.
    const job = JSON.parse(readFileSync(join(dir, 'data', 'batches', `${id}.json`), 'utf8')) as { outputId: string };
    const output = join(dir, 'data', 'files', `${job.outputId}.jsonl`);
    const before = readFileSync(output, 'utf8').split('\n').filter(Boolean).length;
    expect(before).toBeGreaterThanOrEqual(4);
    expect(before).toBeLessThan(20);
    appendFileSync(output, '{"id":"batch_req_torn","custom_id":"docs-');

    for (const n of sim.nodes) n.setFaults({ slowdown: 1 });
    const second = await serve(cfg);
    children.push(second.proc);
    const done = await until(second.url, id, (s) => s.status === 'completed' || s.status === 'failed');
    expect(done).toMatchObject({ status: 'completed', total: 40, embedded: 40, failed: 0 });

    // Each chunk answered exactly once over both runs.
    const batch = await get(`${second.url}/v1/batches/${id}`);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 20, completed: 20, failed: 0 }, error_file_id: null });
    const lines = (await (await fetch(`${second.url}/v1/files/${batch.output_file_id as string}/content`)).text()).split('\n').filter(Boolean);
    const ids = lines.map((l) => (JSON.parse(l) as { custom_id: string }).custom_id).sort();
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `docs-${2 * i}-${2 * i + 2}`).sort());

    // Every document's vector, in the documents' order: as one direct call embeds them.
    const results = await get(`${second.url}/api/embed/batch/${id}/results`);
    const direct = await fetch(`${sim.nodes[0].url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: MODEL, input: docs }) });
    expect(results.embeddings).toEqual(((await direct.json()) as { embeddings: number[][] }).embeddings);
    second.proc.kill('SIGTERM');
    await second.exited;
  });
});
