import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// Runs the real benchmark (compiled: it forks its sim child from dist/) on a trace a tenth as long,
// with two strategies: the point is the shape of its output, not the figures.
const main = join(__dirname, '..', 'dist', 'scheduling', 'main.js');

describe('bench:scheduling', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scheduling-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--json writes the scenario and one entry per strategy, in unscaled units', async () => {
    const out = join(dir, 'out.json');
    const md = join(dir, 'out.md');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [main, '--quick', '--scale', '0.2', '--strategies', 'predictive,least-in-flight', '--json', out, '--md', md],
      { timeout: 60_000 },
    );
    expect(stdout).toMatch(/\| predictive/);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r.scenario).toMatchObject({ name: expect.any(String), seed: expect.any(Number), timeScale: expect.any(Number), requests: expect.any(Number) });
    expect(r.scenario.requests).toBeGreaterThan(5);
    // Arrivals at 80% then 150% of the capacity estimate.
    expect(r.scenario.burstRps / r.scenario.steadyRps).toBeCloseTo(1.5 / 0.8, 5);
    expect(r.strategies.map((s: { name: string }) => s.name)).toEqual(['predictive', 'least-in-flight']);
    for (const s of r.strategies) {
      expect(s.completed + s.failed).toBe(r.scenario.requests);
      expect(s.completed).toBeGreaterThan(0);
      for (const k of ['throughputRps', 'burstThroughputRps', 'ttftP50Ms', 'ttftP99Ms', 'latencyP99Ms', 'coldLoads']) {
        expect(typeof s[k]).toBe('number');
        expect(s[k]).toBeGreaterThanOrEqual(0);
      }
      expect(s.ttftP99Ms).toBeGreaterThanOrEqual(s.ttftP50Ms);
      expect(s.latencyP99Ms).toBeGreaterThanOrEqual(s.ttftP50Ms);
      // Unscaled: a request's first token takes at least a prefill, which is simulated seconds × timeScale in wall time.
      expect(s.ttftP50Ms).toBeGreaterThan(50);
      expect(Object.keys(s.utilization).sort()).toEqual(['cpu-box', 'gpu-large', 'gpu-mid', 'gpu-small']);
      for (const u of Object.values(s.utilization) as number[]) {
        expect(u).toBeGreaterThanOrEqual(0);
        expect(u).toBeLessThanOrEqual(1.01);
      }
    }
    expect(r.targets.map((t: { name: string }) => t.name)).toHaveLength(4);
    expect(readFileSync(md, 'utf8')).toMatch(/\| least-in-flight/);
  }, 90_000);
});
