/**
 * `ollama-ring batch`: the built CLI as a child process, embedded over a simulated pool and against
 * a gateway started here with the Batch API. Needs `tsc -b` first (scripts/test builds before jest).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type SimPool, startSimPool } from '@ollama-ring/ollama-sim';
import { allRoutes } from '../../src';
import { runCli } from '../../src/cli';
import { fillPrompt, globRegExp } from '../../src/commands/batch-dir';
import { Progress } from '../../src/commands/batch-output';
import type { CliIo } from '../../src/commands/types';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { eventually, inFlight } from '../../../balancer/test/e2e/harness';
import { chatLine, jsonl, type Result } from './batch-helpers';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** The CLI as a child; `during` runs while it does (to signal it). */
function cli(args: string[], during?: (p: ChildProcess, err: () => string) => Promise<void>, env: Record<string, string> = {}): Promise<Ran> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => void (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return Promise.all([exited, during?.(proc, () => err)]).then(([code]) => ({ code, out, err }));
}

async function inProcess(argv: string[], env: Record<string, string> = {}): Promise<Ran> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, env };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** The result lines of a file, each checked to be whole JSON. */
function readResults(path: string): Result[] {
  const text = readFileSync(path, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Result);
}

function counts(rs: Result[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rs) m.set(r.custom_id, (m.get(r.custom_id) ?? 0) + 1);
  return m;
}

let dir: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx -y pnpm@10 exec tsc -b packages/server)`);
  dir = mkdtempSync(join(tmpdir(), 'batch-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

describe('batch run, embedded over a simulated pool', () => {
  let sim: SimPool;
  let config: string;
  beforeAll(async () => {
    sim = await startSimPool({
      timeScale: 0.02,
      models: [
        { name: 'llama3.2', loadMs: 200 },
        // Slow answers: lines are still running when Ctrl-C arrives.
        { name: 'slow', loadMs: 50, tokensPerSec: 20, responseTokens: { min: 30, max: 30 } },
      ],
      nodes: [
        { id: 'a', models: ['llama3.2', 'slow'], numParallel: 2 },
        { id: 'b', models: ['llama3.2', 'slow'], numParallel: 2 },
      ],
    });
    config = at('pool.yaml');
    writeFileSync(config, `nodes:\n${sim.nodes.map((n) => `  - id: ${n.id}\n    url: ${n.url}\n    maxConcurrentRequests: 2\n`).join('')}`);
  });
  afterAll(() => sim.close());

  test('a JSONL file: every line answered once, in the gateway’s output shape; failures marked', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `line-${i}`);
    const lines = [...ids.map((id) => chatLine(id)), { ...chatLine('missing'), body: { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] } }];
    writeFileSync(at('in.jsonl'), jsonl(lines));
    const r = await cli(['batch', 'run', at('in.jsonl'), '--output', at('out.jsonl'), '--errors', at('err.jsonl'), '--config', config, '--concurrency', '3']);
    expect(r.err).toMatch(/batch: 12 answered, 1 failed/);
    expect(r.err).toMatch(/^batch: 13\/13 done, 1 failed, [\d.]+ req\/s, \d+ tok\/s, ETA 0s$/m);
    expect(r.code).toBe(1); // a line failed
    const out = readResults(at('out.jsonl'));
    expect(out.map((l) => l.custom_id).sort()).toEqual([...ids].sort());
    for (const l of out) {
      expect(l.id).toMatch(/^batch_req_/);
      expect(l.error).toBeNull();
      expect(l.response?.status_code).toBe(200);
      expect((l.response?.body.choices as { message: { content: string } }[])[0].message.content.length).toBeGreaterThan(0);
    }
    const err = readResults(at('err.jsonl'));
    expect(err.map((l) => l.custom_id)).toEqual(['missing']);
    expect(err[0].response?.status_code).toBe(404);
    expect(err[0].response?.body).toMatchObject({ error: { message: expect.stringMatching(/no-such-model/) } });
    // Running it again writes nothing more: every custom_id is already there.
    const again = await cli(['batch', 'run', at('in.jsonl'), '--output', at('out.jsonl'), '--errors', at('err.jsonl'), '--config', config]);
    expect(again.err).toMatch(/0 answered, 0 failed, 13 skipped/);
    expect(again.code).toBe(0);
    expect(readResults(at('out.jsonl'))).toHaveLength(12);
    // Deleting the error file runs its lines again, and only those.
    rmSync(at('err.jsonl'));
    const retry = await cli(['batch', 'run', at('in.jsonl'), '--output', at('out.jsonl'), '--errors', at('err.jsonl'), '--config', config]);
    expect(retry.err).toMatch(/0 answered, 1 failed, 12 skipped/);
    expect(readResults(at('err.jsonl')).map((l) => l.custom_id)).toEqual(['missing']);
    expect(readResults(at('out.jsonl'))).toHaveLength(12);
  });

  test('a directory: one request per matching file, custom_id its relative path, its text in the prompt; a file over the cap is an error line', async () => {
    const docs = at('docs');
    mkdirSync(join(docs, 'sub', 'deep'), { recursive: true });
    writeFileSync(join(docs, 'short.txt'), 'tiny');
    writeFileSync(join(docs, 'sub', 'long.txt'), 'word '.repeat(400));
    writeFileSync(join(docs, 'sub', 'deep', 'c.txt'), 'deep down');
    writeFileSync(join(docs, 'sub', 'notes.md'), 'not matched');
    writeFileSync(join(docs, 'big.txt'), 'x'.repeat(5000));
    mkdirSync(join(docs, '.cache'));
    writeFileSync(join(docs, '.cache', 'hidden.txt'), 'passed over, as a shell would');
    const out = at('dir-out.jsonl');
    const r = await cli([
      'batch',
      'run',
      '--dir',
      docs,
      '--pattern',
      '**/*.txt',
      '--model',
      'llama3.2',
      '--prompt',
      'Summarise {{path}}: {{content}}',
      '--output',
      out,
      '--config',
      config,
      '--max-file-bytes',
      '4096',
      '--option',
      'num_ctx=8192',
    ]);
    expect(r.err).toMatch(/batch: 3 answered, 1 failed/);
    expect(r.code).toBe(1);
    const byId = new Map(readResults(out).map((l) => [l.custom_id, l]));
    expect([...byId.keys()].sort()).toEqual(['big.txt', 'short.txt', 'sub/deep/c.txt', 'sub/long.txt']);
    expect(byId.get('big.txt')).toMatchObject({
      response: null,
      error: { code: 'file_too_large', message: expect.stringMatching(/big\.txt is 5000 bytes, over the 4096-byte limit/) },
    });
    const promptTokens = (id: string) => byId.get(id)?.response?.body.prompt_eval_count as number;
    expect(byId.get('short.txt')?.response?.status_code).toBe(200);
    expect(typeof byId.get('short.txt')?.response?.body.response).toBe('string');
    // The file's text went into the prompt: 400 words make a prompt hundreds of tokens longer.
    expect(promptTokens('sub/long.txt') - promptTokens('short.txt')).toBeGreaterThan(300);
  });

  test('Ctrl-C mid-run leaves only whole lines; running again answers the rest, every line exactly once', async () => {
    const ids = Array.from({ length: 16 }, (_, i) => `s-${i}`);
    const lines = ids.map((id) => ({ custom_id: id, method: 'POST', url: '/api/generate', body: { model: 'slow', prompt: `story ${id}` } }));
    writeFileSync(at('slow.jsonl'), jsonl(lines));
    const out = at('slow-out.jsonl');
    const args = ['batch', 'run', at('slow.jsonl'), '--output', out, '--config', config, '--concurrency', '2'];
    const first = await cli(args, async (p) => {
      await eventually(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 3, 20_000, 'a few lines written');
      p.kill('SIGINT');
    });
    expect(first.err).toMatch(/SIGINT: no new line starts/);
    expect(first.err).toMatch(/run the same command again to resume/);
    expect(first.code).toBe(130);
    const part = readResults(out);
    expect(part.length).toBeGreaterThan(2);
    expect(part.length).toBeLessThan(ids.length);
    // A torn last line, as a crash mid-write would leave: cut off by the next run.
    writeFileSync(out, readFileSync(out, 'utf8') + '{"id":"batch_req_torn","custom_id":"s-1');
    const second = await cli(args);
    expect(second.err).toMatch(new RegExp(`${part.length} skipped`));
    expect(second.code).toBe(0);
    const all = readResults(out);
    expect([...counts(all).entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    for (const l of all) expect(l.response?.body.done).toBe(true);
  });
  test('a second Ctrl-C aborts the running lines, which are not written; running again answers them', async () => {
    // Slowed down: both lines are still running when the second Ctrl-C arrives.
    for (const n of sim.nodes) n.setFaults({ slowdown: 40 });
    const ids = Array.from({ length: 8 }, (_, i) => `t-${i}`);
    writeFileSync(at('abort.jsonl'), jsonl(ids.map((id) => ({ custom_id: id, method: 'POST', url: '/api/generate', body: { model: 'slow', prompt: `story ${id}` } }))));
    const out = at('abort-out.jsonl');
    const args = ['batch', 'run', at('abort.jsonl'), '--output', out, '--config', config, '--concurrency', '2'];
    const first = await cli(args, async (p, err) => {
      await eventually(() => existsSync(out) && readFileSync(out, 'utf8').includes('\n'), 30_000, 'a line written');
      p.kill('SIGINT');
      await eventually(() => err().includes('no new line starts'), 10_000, 'the first Ctrl-C heard');
      p.kill('SIGINT');
    });
    for (const n of sim.nodes) n.clearFaults();
    expect(first.err).toMatch(/SIGINT again: aborting the running lines/);
    expect(first.code).toBe(130);
    const part = readResults(out);
    // Only answers: no line was written as failed by the abort.
    for (const l of part) expect(l.response?.status_code).toBe(200);
    expect(part.length).toBeLessThan(ids.length);
    const second = await cli(args);
    expect(second.code).toBe(0);
    expect([...counts(readResults(out)).entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
  });
});

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

describe('batch: usage and input errors (in-process)', () => {
  test.each<[string, string[], RegExp]>([
    ['no output', ['batch', 'run', 'x.jsonl'], /--output FILE is required/],
    ['input and --dir', ['batch', 'run', 'x.jsonl', '--dir', '.', '--output', 'o'], /either an INPUT\.jsonl or --dir DIR/],
    ['--dir without --model', ['batch', 'run', '--dir', '.', '--prompt', 'p', '--output', '/dev/null'], /--model is required with --dir/],
    ['bad endpoint', ['batch', 'run', '--dir', '.', '--model', 'm', '--prompt', 'p', '--endpoint', '/api/embed', '--output', '/dev/null'], /--endpoint must be one of/],
    ['--config with --url', ['batch', 'run', 'x.jsonl', '-o', 'o', '--url', 'http://h', '--config', 'c'], /--config, --hosts and --concurrency are for embedded runs/],
    ['unknown subcommand', ['batch', 'frob'], /unknown batch command 'frob'/],
    ['status without id', ['batch', 'status', '--url', 'http://h'], /needs the batch's ID/],
  ])('%s', async (_name, argv, pattern) => {
    const r = await inProcess(argv);
    expect(r.err).toMatch(pattern);
    expect(r.code).toBe(2);
  });

  test('an invalid input file is refused with its line numbers, before anything runs', async () => {
    writeFileSync(at('bad.jsonl'), jsonl([chatLine('a'), '{not json', chatLine('a')]));
    const r = await inProcess(['batch', 'run', at('bad.jsonl'), '--output', at('bad-out.jsonl')]);
    expect(r.err).toMatch(/bad\.jsonl is not a valid batch input:\n {2}line 2 is not valid JSON.*\n {2}line 3: custom_id 'a' appears on an earlier line/);
    expect(r.code).toBe(2);
    expect(readFileSync(at('bad-out.jsonl'), 'utf8')).toBe('');
  });

  test('globs and prompts', () => {
    expect(globRegExp('**/*.md').test('a/b/c.md')).toBe(true);
    expect(globRegExp('**/*.md').test('c.md')).toBe(true);
    expect(globRegExp('*.md').test('a/c.md')).toBe(false);
    expect(globRegExp('*.{txt,md}').test('x.txt')).toBe(true);
    expect(globRegExp('docs/?.txt').test('docs/a.txt')).toBe(true);
    expect(fillPrompt('Summarise {{path}}: {{content}}', 'a/b.txt', 'text with {{path}} in it')).toBe('Summarise a/b.txt: text with {{path}} in it');
    expect(fillPrompt('Summarise this document', 'a.txt', 'body')).toBe('Summarise this document\n\nbody');
  });

  test('on a terminal the progress line is redrawn in place, and notes do not tear it', () => {
    let err = '';
    const io: CliIo = { out: () => undefined, err: (t) => void (err += t), isTTY: true, columns: 200, env: {} };
    const p = new Progress(io, 4, 2);
    p.start();
    p.add({ id: 'x', custom_id: 'a', response: { status_code: 200, request_id: 'r', body: { eval_count: 30 } }, error: null });
    p.add({ id: 'y', custom_id: 'b', response: null, error: { code: 'file_too_large', message: 'too big' } });
    p.note('batch batch_1 created');
    p.finish();
    expect(err.startsWith('\r\x1b[Kbatch: 0/4 done')).toBe(true);
    expect(err).toContain('\r\x1b[Kbatch batch_1 created\n\r\x1b[Kbatch: 2/4 done, 1 failed');
    // eslint-disable-next-line no-control-regex
    expect(err).toMatch(/\r\x1b\[Kbatch: 2\/4 done, 1 failed, [\d.]+ req\/s, \d+ tok\/s, ETA \S+, \(2 from an earlier run\)\n$/);
  });
});
