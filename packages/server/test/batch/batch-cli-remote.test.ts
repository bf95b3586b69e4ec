/**
 * `ollama-ring batch` against a gateway started here with the Batch API (`--url`): run, directory
 * jobs, Ctrl-C, status, list, cancel and results.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { eventually, inFlight } from '../../../balancer/test/e2e/harness';
import { chatLine, jsonl, type Result } from './batch-helpers';
import { cli, inProcess, readResults, counts, cliSuite } from './cli-harness';

const at = cliSuite();

describe('batch against a gateway (--url)', () => {
  const KEY = 'sk-batch-cli';
  const auth = { authorization: `Bearer ${KEY}` };
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      (c) => {
        c.batch.dataDir = at('gateway-data');
        c.auth.apiKeys = [{ key: KEY }];
      },
      { routes: allRoutes },
    );
  });
  afterAll(() => g.close());
  afterEach(() => eventually(() => Object.values(inFlight(g)).every((n) => n === 0), 10_000, 'no request in flight'));

  test('run uploads, creates, polls and downloads; status, list and results show the job', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `u-${i}`);
    writeFileSync(at('remote.jsonl'), jsonl(ids.map((id) => chatLine(id))));
    const out = at('remote-out.jsonl');
    const r = await cli(['batch', 'run', at('remote.jsonl'), '--output', out, '--url', g.url, '--api-key', KEY]);
    expect(r.err).toMatch(/batch (batch_\w+) created on/);
    expect(r.err).toMatch(/batch: 6 answered, 0 failed/);
    expect(r.code).toBe(0);
    const got = readResults(out);
    expect([...counts(got).entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    for (const l of got) expect(l.response?.status_code).toBe(200);
    const id = /batch (batch_\w+) created/.exec(r.err)![1];

    // The key from the environment, as scripts would pass it.
    const status = await cli(['batch', 'status', id, '--url', g.url], undefined, { OLLAMA_RING_API_KEY: KEY });
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`^${id}  completed  /v1/chat/completions`));
    expect(status.out).toMatch(/requests: +6 total, 6 completed, 0 failed/);
    const list = await inProcess(['batch', 'list', '--url', g.url, '--api-key', KEY]);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ID\s+STATUS\s+ENDPOINT/);
    expect(list.out).toMatch(new RegExp(`^${id}\\s+completed\\s+/v1/chat/completions\\s+6/0/6`, 'm'));
    const results = await inProcess(['batch', 'results', id, '--url', g.url, '--api-key', KEY]);
    expect(results.code).toBe(0);
    expect(
      results.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Result).custom_id)
        .sort(),
    ).toEqual([...ids].sort());
    const toFile = await inProcess(['batch', 'results', id, '--url', g.url, '--api-key', KEY, '--output', at('results.jsonl')]);
    expect(toFile.code).toBe(0);
    expect(readResults(at('results.jsonl'))).toHaveLength(6);
  });

  test('a directory job through the gateway', async () => {
    const docs = at('remote-docs');
    mkdirSync(join(docs, 'a'), { recursive: true });
    writeFileSync(join(docs, 'a', 'one.md'), '# one');
    writeFileSync(join(docs, 'two.md'), '# two');
    const out = at('remote-dir.jsonl');
    const r = await cli([
      'batch',
      'run',
      '--dir',
      docs,
      '--pattern',
      '**/*.md',
      '--model',
      'llama3.2',
      '--endpoint',
      '/v1/chat/completions',
      '--prompt',
      'Summarise: {{content}}',
      '--output',
      out,
      '--url',
      g.url,
      '--api-key',
      KEY,
    ]);
    expect(r.code).toBe(0);
    expect(readResults(out).map((l) => [l.custom_id, l.response?.status_code])).toEqual(
      expect.arrayContaining([
        ['a/one.md', 200],
        ['two.md', 200],
      ]),
    );
  });

  test('Ctrl-C cancels the gateway job and keeps what it answered; running again sends only the rest', async () => {
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ slowdown: 30 });
    const ids = Array.from({ length: 24 }, (_, i) => `r-${i}`);
    writeFileSync(at('interrupt.jsonl'), jsonl(ids.map((id) => chatLine(id))));
    const out = at('interrupt-out.jsonl');
    const args = ['batch', 'run', at('interrupt.jsonl'), '--output', out, '--url', g.url, '--api-key', KEY];
    const first = await cli(args, async (p, err) => {
      await eventually(() => /batch batch_\w+ created/.test(err()), 20_000, 'the job created');
      const id = /batch (batch_\w+) created/.exec(err())![1];
      const end = Date.now() + 20_000;
      for (;;) {
        const b = (await (await fetch(`${g.url}/v1/batches/${id}`, { headers: auth })).json()) as { request_counts: { completed: number } };
        if (b.request_counts.completed >= 2 || Date.now() > end) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      p.kill('SIGINT');
    });
    for (const id of ['a', 'b']) g.sim.node(id).clearFaults();
    expect(first.err).toMatch(/cancelling batch batch_\w+/);
    expect(first.code).toBe(130);
    const part = readResults(out);
    expect(part.length).toBeGreaterThanOrEqual(2);
    expect(part.length).toBeLessThan(ids.length);
    for (const l of part) expect(l.response?.status_code).toBe(200);
    const second = await cli(args);
    expect(second.err).toMatch(new RegExp(`${part.length} skipped`));
    expect(second.err).toMatch(new RegExp(`\\(${ids.length - part.length} lines\\)`));
    expect(second.code).toBe(0);
    expect([...counts(readResults(out)).entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
  });

  test('cancel: a job stops, and status says so; errors are clear', async () => {
    // A job of many lines on a pool slowed down: still running when the cancel arrives.
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ slowdown: 50 });
    writeFileSync(at('long.jsonl'), jsonl(Array.from({ length: 40 }, (_, i) => chatLine(`c-${i}`))));
    const form = new FormData();
    form.append('purpose', 'batch');
    form.append('file', new Blob([readFileSync(at('long.jsonl'))]), 'long.jsonl');
    const file = (await (await fetch(`${g.url}/v1/files`, { method: 'POST', headers: auth, body: form })).json()) as { id: string };
    const created = (await (
      await fetch(`${g.url}/v1/batches`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
      })
    ).json()) as { id: string };
    const statusOf = async () => (await inProcess(['batch', 'status', created.id, '--url', g.url], { OLLAMA_RING_API_KEY: KEY })).out;
    const end = Date.now() + 20_000;
    while (!(await statusOf()).startsWith(`${created.id}  in_progress`) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const cancel = await inProcess(['batch', 'cancel', created.id, '--url', g.url, '--api-key', KEY]);
    expect(cancel.code).toBe(0);
    expect(cancel.out).toMatch(new RegExp(`^${created.id}  (cancelling|cancelled)`));
    let status = await statusOf();
    while (!status.startsWith(`${created.id}  cancelled`) && Date.now() < end + 20_000) {
      await new Promise((r) => setTimeout(r, 100));
      status = await statusOf();
    }
    expect(status).toMatch(new RegExp(`^${created.id}  cancelled`));
    expect(status).toMatch(/requests: +40 total, \d+ completed, \d+ failed/);
    for (const id of ['a', 'b']) g.sim.node(id).clearFaults();

    const missing = await inProcess(['batch', 'status', 'batch_nope', '--url', g.url, '--api-key', KEY]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/answered 404: No such Batch object: batch_nope/);
    const noKey = await inProcess(['batch', 'list', '--url', g.url]);
    expect(noKey.code).toBe(1);
    expect(noKey.err).toMatch(/ollama-ring batch list: GET \/v1\/batches\?limit=20 .* answered 401/);
  });
});
