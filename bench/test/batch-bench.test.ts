import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simulateAlone, simulateMixed } from '../src/batch/queue-model';

// Runs the real benchmarks (compiled: they fork their sim and gateway children from dist/) at a tiny
// scale: the point is the shape of their output, never the figures.
const dist = join(__dirname, '..', 'dist', 'batch');
const run = promisify(execFile);

describe('bench:batch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-batch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--quick runs every scenario once and reports each figure and the six targets', async () => {
    const out = join(dir, 'out.json');
    const md = join(dir, 'out.md');
    const tiny = ['--lines', '16', '--requests', '60', '--clients', '4', '--fair-ms', '20000'];
    const { stdout } = await run(process.execPath, [join(dist, 'main.js'), '--quick', ...tiny, '--json', out, '--md', md], { timeout: 90_000 });
    expect(stdout).toMatch(/## Targets/);
    expect(stdout).toMatch(/of 6 targets met/);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r).toMatchObject({ quick: true, rounds: 1, timeScale: 0.1, machine: { cores: expect.any(Number) }, command: expect.stringContaining('bench:batch') });

    expect(r.batch).toHaveLength(1);
    const b = r.batch[0];
    expect(b.batchAlone).toMatchObject({ lines: 16, failed: 0 });
    expect(b.mixed).toMatchObject({ lines: 16, failed: 0 });
    for (const v of [b.interactiveAlone.ttftP99Ms, b.mixed.ttftP99Ms, b.batchAlone.durationMs, b.mixed.durationMs, b.ttftP99Ratio, b.batchStretch, b.batchStretchOnSpare]) {
      expect(typeof v).toBe('number');
      expect(v).toBeGreaterThan(0);
    }
    expect(b.interactiveAlone.ttftP99Ms).toBeGreaterThanOrEqual(b.interactiveAlone.ttftP50Ms);
    // Utilization is the balancer's busy ÷ capacity slot time: a fraction.
    for (const u of [b.interactiveAlone.utilization, b.batchAlone.utilization, b.mixed.utilization]) {
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThanOrEqual(1.01);
    }

    expect(r.embed).toHaveLength(1);
    const e = r.embed[0];
    expect(e.off).toMatchObject({ autobatch: false, requests: 60, errors: 0 });
    expect(e.on).toMatchObject({ autobatch: true, requests: 60, errors: 0 });
    // Off, every request is its own upstream call; on, never more calls than requests.
    expect(e.off.upstreamCalls).toBe(60);
    expect(e.on.upstreamCalls).toBeLessThanOrEqual(60);
    expect(e.throughputRatio).toBeCloseTo(e.on.reqPerSec / e.off.reqPerSec, 9);

    expect(r.fairness).toHaveLength(1);
    const f = r.fairness[0];
    for (const k of [f.lightAlone, f.light, f.heavy]) {
      expect(k.served + k.failed).toBe(k.requests);
      expect(k.queueP99Ms).toBeGreaterThanOrEqual(k.queueP50Ms);
    }
    expect(f.light.served).toBeGreaterThan(0);
    // The heavy key sends ten times the light key's rate.
    expect(f.heavy.requests).toBeGreaterThan(f.light.requests);
    expect(typeof f.lightP99Ratio).toBe('number');

    expect(r.targets.map((t: { scenario: string }) => t.scenario)).toEqual(['batch', 'batch', 'batch', 'batch', 'embed', 'fairness']);
    for (const t of r.targets) expect(typeof t.met).toBe('boolean');
    const text = readFileSync(md, 'utf8');
    expect(text).toMatch(/--quick: proves the harness, not a result/);
    for (const title of ['Batch against interactive', 'Embeddings, autobatch off and on', 'Fairness between API keys', 'Targets']) expect(text).toContain(`## ${title}`);
  }, 120_000);

  test('--only runs the scenarios named, and refuses one it does not know', async () => {
    await expect(run(process.execPath, [join(dist, 'main.js'), '--quick', '--only', 'embed,nope'], { timeout: 30_000 })).rejects.toMatchObject({
      stderr: expect.stringMatching(/--only: unknown scenario 'nope'/),
    });
    const out = join(dir, 'embed.json');
    await run(process.execPath, [join(dist, 'main.js'), '--quick', '--only', 'embed', '--requests', '20', '--clients', '2', '--json', out], { timeout: 60_000 });
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r.batch).toEqual([]);
    expect(r.fairness).toEqual([]);
    expect(r.embed).toHaveLength(1);
    expect(r.targets.map((t: { scenario: string }) => t.scenario)).toEqual(['embed']);
  }, 90_000);

  test('bench:embed still runs on its own', async () => {
    const { stdout } = await run(process.execPath, [join(dist, 'embed.js'), '--quick', '--requests', '20', '--clients', '2'], { timeout: 60_000 });
    expect(stdout).toMatch(/\| off +\|/);
    expect(stdout).toMatch(/\| on +\|/);
  }, 90_000);

  test('bench:batch-model: no cuts leave the batch the capacity it needs and the interactive requests waiting; a generous cut limit serves them as alone', () => {
    const seeds = [1, 2, 3, 4, 5];
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[2];
    const alone = med(seeds.map((s) => simulateAlone(s, 1_000_000)));
    const none = seeds.map((s) => simulateMixed(s, 0, 2000, 5));
    const three = seeds.map((s) => simulateMixed(s, 3, 2000, 5));
    const ten = seeds.map((s) => simulateMixed(s, 10, 2000, 5));
    expect(none.every((o) => o.cuts === 0 && Number.isFinite(o.batchMs))).toBe(true);
    expect(ten.every((o) => o.cuts > 0 && Number.isFinite(o.batchMs))).toBe(true);
    // Without cuts an interactive request mostly waits for a line to end (the p50 is up by a good part of a service time).
    expect(med(none.map((o) => o.ttftP50))).toBeGreaterThan(2 * med(ten.map((o) => o.ttftP50)));
    // The cut limit is the tail: 3 leaves it well above alone, 10 within a few per cent of it.
    expect(med(three.map((o) => o.ttftP99)) / alone).toBeGreaterThan(1.15);
    expect(med(ten.map((o) => o.ttftP99)) / alone).toBeLessThan(1.1);
    // Cuts cost the batch the work redone.
    expect(med(ten.map((o) => o.batchMs))).toBeGreaterThan(med(none.map((o) => o.batchMs)));
  });
});
