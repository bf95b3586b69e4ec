import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { answers, chatLine, jsonl, until, upload } from './batch-helpers';
import { serve } from './serve-harness';

describe('a gateway stopped mid-batch and restarted on the same data dir', () => {
  let sim: SimPool;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'batch-crash-'));
    sim = await startSimPool({
      timeScale: 0.02,
      models: [{ name: 'llama3.2', loadMs: 200 }],
      nodes: [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
    });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A config for the pool, with its own data dir. */
  const configFor = (name: string): string => {
    const cfg = join(dir, `${name}.yaml`);
    const nodes = sim.nodes.map((n) => `  - { id: ${n.id}, url: "${n.url}", maxConcurrentRequests: 2 }`).join('\n');
    writeFileSync(cfg, `server: { port: 0 }\nnodes:\n${nodes}\nbatch: { dataDir: "${join(dir, name)}" }\nlogging: { level: info }\n`);
    return cfg;
  };

  test('killed with SIGKILL: every line is answered exactly once in the output', async () => {
    // Slow enough that lines are in flight when the process dies.
    for (const n of sim.nodes) n.setFaults({ slowdown: 30 });
    const cfg = configFor('data');

    const first = await serve(cfg);
    children.push(first.proc);
    let client = new OpenAI({ baseURL: `${first.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids = Array.from({ length: 30 }, (_, i) => `line-${i}`);
    const created = await client.batches.create({
      input_file_id: await upload(client, jsonl(ids.map((id) => chatLine(id)))),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const mid = await until(client, created.id, (b) => (b.request_counts?.completed ?? 0) >= 5, 60_000);
    expect(mid.status).toBe('in_progress');
    first.proc.kill('SIGKILL');
    await first.exited;

    // What the dead process left: some results, fewer than all; and a torn last line, as a crash
    // in the middle of a write would leave, which the restart must cut off.
    const job = JSON.parse(readFileSync(join(dir, 'data', 'batches', `${created.id}.json`), 'utf8')) as { outputId: string };
    const output = join(dir, 'data', 'files', `${job.outputId}.jsonl`);
    const before = readFileSync(output, 'utf8').split('\n').filter(Boolean).length;
    expect(before).toBeGreaterThanOrEqual(5);
    expect(before).toBeLessThan(30);
    appendFileSync(output, '{"id":"batch_req_torn","custom_id":"line-');

    for (const n of sim.nodes) n.setFaults({ slowdown: 1 });
    const second = await serve(cfg);
    children.push(second.proc);
    client = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const b = await until(client, created.id, undefined, 60_000);
    expect(b.status).toBe('completed');
    expect(b.request_counts).toEqual({ total: 30, completed: 30, failed: 0 });
    const { out, err, counts } = await answers(client, b);
    expect(err).toEqual([]);
    expect(out).toHaveLength(30);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    for (const r of out) expect(r.response?.status_code).toBe(200);
    second.proc.kill('SIGTERM');
    await second.exited;
  });

  test('stopped with SIGTERM: the running lines finish or run again, none is recorded as failed', async () => {
    for (const n of sim.nodes) n.setFaults({ slowdown: 30 });
    const cfg = configFor('graceful');
    const first = await serve(cfg);
    children.push(first.proc);
    let client = new OpenAI({ baseURL: `${first.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids = Array.from({ length: 20 }, (_, i) => `g-${i}`);
    const created = await client.batches.create({
      input_file_id: await upload(client, jsonl(ids.map((id) => chatLine(id)))),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await until(client, created.id, (b) => (b.request_counts?.completed ?? 0) >= 3, 60_000);
    first.proc.kill('SIGTERM');
    await first.exited;
    const job = JSON.parse(readFileSync(join(dir, 'graceful', 'batches', `${created.id}.json`), 'utf8')) as { batch: { status: string } };
    expect(job.batch.status).toBe('in_progress');

    for (const n of sim.nodes) n.setFaults({ slowdown: 1 });
    const second = await serve(cfg);
    children.push(second.proc);
    client = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const b = await until(client, created.id, undefined, 60_000);
    expect(b.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
    const { out, err, counts } = await answers(client, b);
    expect(err).toEqual([]);
    expect(out).toHaveLength(20);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    second.proc.kill('SIGTERM');
    await second.exited;
  });
});
