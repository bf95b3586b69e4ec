/**
 * `ollama-ring batch run` embedded over a simulated pool (the built CLI as a child process), and its
 * usage and input errors. The same against a gateway: batch-cli-remote.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type SimPool, startSimPool } from '@ollama-ring/ollama-sim';
import { fillPrompt, globRegExp } from '../../src/commands/batch-dir';
import { Progress } from '../../src/commands/batch-output';
import type { CliIo } from '../../src/commands/types';
import { eventually } from '../../../balancer/test/e2e/harness';
import { chatLine, jsonl } from './batch-helpers';
import { cli, inProcess, readResults, counts, cliSuite } from './cli-harness';

const at = cliSuite();

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
