import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateGraph, levels, lowerBound } from '../src/workflow/graph';

// Runs the real benchmark (compiled: it forks its sim child from dist/) at a tiny scale: the point
// is the shape of its output, never the figures.
const run = promisify(execFile);

describe('bench:workflow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-workflow-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the generated graph: each task after what it needs, with fan-in, and a lower bound no smaller than its critical path or its work over the slots', () => {
    const tasks = generateGraph(200, 1);
    const seen = new Set<string>();
    for (const t of tasks) {
      for (const d of t.deps) expect(seen.has(d)).toBe(true);
      seen.add(t.id);
    }
    expect(Math.max(...tasks.map((t) => t.deps.length))).toBeGreaterThanOrEqual(4);
    expect(Math.max(...levels(tasks).values())).toBeGreaterThan(3);
    const lb = lowerBound(tasks, (t) => t.tokens, 10);
    expect(lb.boundMs).toBe(Math.max(lb.criticalPathMs, lb.workMs));
    expect(lb.workMs).toBeCloseTo(tasks.reduce((s, t) => s + t.tokens, 0) / 10);
  });

  test('--quick runs both executors once and reports the makespans, the bound, utilisation and the two targets', async () => {
    const out = join(dir, 'out.json');
    const md = join(dir, 'out.md');
    const { stdout } = await run(process.execPath, [join(__dirname, '..', 'dist', 'workflow', 'main.js'), '--quick', '--tasks', '20', '--json', out, '--md', md], {
      timeout: 90_000,
    });
    expect(stdout).toMatch(/lower bound [\d.]+ s: critical path [\d.]+ s, work ÷ slots [\d.]+ s/);
    expect(stdout).toMatch(/\| WorkflowRunner +\| [\d.]+ s/);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r).toMatchObject({ quick: true, tasks: 20, rounds: [{ ours: { failed: 0 }, waves: { failed: 0 } }] });
    for (const k of ['ours', 'waves']) {
      expect(r.rounds[0][k].makespanMs).toBeGreaterThan(0);
      for (const u of Object.values(r.rounds[0][k].utilization) as number[]) expect(u).toBeLessThanOrEqual(1.01);
    }
    expect(r.targets).toHaveLength(2);
    expect(readFileSync(md, 'utf8')).toMatch(/## Targets/);
  }, 120_000);
});
