import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { runCli, type SimPool } from '@ollama-ring/ollama-sim';

function io(): { out: string[]; err: string[]; io: { out(t: string): void; err(t: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t) => out.push(t), err: (t) => err.push(t) } };
}

describe('ollama-ring-sim CLI', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help and version', async () => {
    const h = io();
    expect(await runCli(['--help'], h.io)).toBe(0);
    expect(h.out.join('')).toContain('Usage: ollama-ring-sim --config FILE');
    const v = io();
    expect(await runCli(['--version'], v.io)).toBe(0);
    expect(v.out.join('')).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it.each([
    [[], 2, '--config is required'],
    [['--bogus'], 2, "unknown argument '--bogus'"],
    [['--config', 'x.yaml', '--time-scale', '0'], 2, '--time-scale must be a positive number'],
    [['--config', '/nonexistent.yaml'], 1, 'cannot read file'],
  ])('fails on %j with exit code %i', async (argv, code, message) => {
    const e = io();
    expect(await runCli(argv, e.io)).toBe(code);
    expect(e.err.join('')).toContain(message);
  });

  it('starts the configured pool, serves the ollama client and logs one line per request', async () => {
    const file = join(dir, 'sim.yaml');
    writeFileSync(file, 'models:\n  - {name: tiny, loadMs: 0, responseTokens: {min: 3, max: 3}}\nnodes:\n  - {id: alpha, models: [tiny]}\n  - {id: beta, models: [tiny]}\n');
    const o = io();
    const pool = (await runCli(['--config', file, '--verbose', '--time-scale', '0.01'], o.io)) as SimPool;
    try {
      expect(pool.nodes.map((n) => n.id)).toEqual(['alpha', 'beta']);
      expect(o.out.join('')).toContain('2 simulated Ollama node(s) running (timeScale 0.01)');
      const r = await new Ollama({ host: pool.nodes[1].url }).generate({ model: 'tiny', prompt: 'hi' });
      expect(r.eval_count).toBe(3);
      expect(o.out.join('')).toMatch(/\[beta\] POST \/api\/generate 200 [\d.]+ms model=tiny/);
    } finally {
      await pool.close();
    }
  });
});
