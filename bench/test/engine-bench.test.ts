import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// Runs the real benchmark at a tiny scale: the point is the shape of its output, not the figures.
const main = join(__dirname, '..', 'dist', 'engine', 'main.js');

describe('bench:engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--json writes every scenario with both rates, and the latency block', async () => {
    const out = join(dir, 'out.json');
    const { stdout } = await promisify(execFile)(process.execPath, [main, '--quick', '--runs', '1', '--scale', '0.002', '--json', out], {
      timeout: 90_000,
    });
    expect(stdout).toMatch(/unicast-1p1c/);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r.machine).toMatchObject({ cores: expect.any(Number), node: process.version });
    expect(r.scenarios.map((s: { name: string }) => s.name)).toEqual(['unicast-1p1c', 'pipeline-1p3c', 'sequencer-3p1c', 'multicast-1p3c', 'diamond-1p3c']);
    for (const s of r.scenarios) {
      expect(s.eventsPerSec).toBeGreaterThan(0);
      expect(s.baselineEventsPerSec).toBeGreaterThan(0);
    }
    for (const k of ['p50Us', 'p99Us', 'p999Us', 'baselineP50Us', 'baselineP99Us']) {
      expect(r.latency[k]).toBeGreaterThan(0);
    }
    expect(r.latency.p99Us).toBeGreaterThanOrEqual(r.latency.p50Us);
  }, 120_000);
});
