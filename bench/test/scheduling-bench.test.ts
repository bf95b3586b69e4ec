import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MODELS, NODES, estimateCapacity, nominalServiceMs } from '../src/scheduling/pool';
import { hotReference } from '../src/scheduling/reference';
import { buildTrace, meanOutputTokens, modelPopularity } from '../src/scheduling/trace';

describe('bench:scheduling capacity estimate', () => {
  const pop = modelPopularity();
  // Mean unit-speed service per node (prompt 250 + output 100 tokens) and the mix's work per request.
  const unitSec = (id: string): number => nominalServiceMs(id, 'llama3.2:3b', 250, 100) / 1000;
  const work = pop.reduce((a, p, i) => a + p / MODELS[i].relativeSpeed, 0);

  test('is the slots ÷ service bound of the whole mix when no subset of models is the bottleneck', () => {
    const c = estimateCapacity(pop, 250, 100);
    const bound = NODES.reduce((a, n) => a + n.numParallel / unitSec(n.id), 0) / work;
    expect(c.bottleneck).toBeUndefined();
    expect(c.rps).toBeCloseTo(bound, 9);
    expect(Object.values(c.byNode).reduce((a, n) => a + n.rps, 0)).toBeCloseTo(c.rps, 9);
  });

  test('scales with measured slowdown, and a slow node cuts only its own share', () => {
    const c = estimateCapacity(pop, 250, 100);
    const all = Object.fromEntries(NODES.map((n) => [n.id, 2]));
    expect(estimateCapacity(pop, 250, 100, all).rps).toBeCloseTo(c.rps / 2, 9);
    const slowLarge = estimateCapacity(pop, 250, 100, { 'gpu-large': 2 });
    expect(slowLarge.rps).toBeCloseTo(c.rps - c.byNode['gpu-large'].rps / 2, 9);
  });

  test('finds the bottleneck when only some nodes have the model asked for', () => {
    // The CPU box holds only llama3.2 and phi3, so with every request for gemma3 only gpu-large and gpu-mid count.
    const gemma = MODELS.map((m) => (m.name === 'gemma3:12b' ? 1 : 0));
    const g = estimateCapacity(gemma, 250, 100);
    const r = MODELS.find((m) => m.name === 'gemma3:12b')?.relativeSpeed ?? 1;
    expect(g.rps).toBeCloseTo((4 / unitSec('gpu-large') + 2 / unitSec('gpu-mid')) * r, 9);
    expect(g.bottleneck).toEqual(['gemma3:12b']);
  });

  test('the trace arrives at 80 % then 150 % of it', () => {
    const t = buildTrace(1, 60_000, 20_000);
    expect(t.steadyRps / t.capacity.rps).toBeCloseTo(0.8, 9);
    expect(t.burstRps / t.capacity.rps).toBeCloseTo(1.5, 9);
    expect(meanOutputTokens()).toBeGreaterThan(0);
  });
});

// Runs the real benchmark (compiled: it forks its sim child from dist/) on a trace a tenth as long,
// with two strategies: the point is the shape of its output, not the figures.
const main = join(__dirname, '..', 'dist', 'scheduling', 'main.js');

describe('bench:scheduling hot reference', () => {
  test('at light load a request waits for nothing but its prefill; over capacity the backlog shows', () => {
    const light = hotReference(buildTrace(3, 60_000, 10_000, { steady: 0.1, burst: 0.1 }));
    // The longest prefill: 1030 prompt tokens on the CPU box at 100 tokens/s × 0.9 (phi3) is 11.4 s;
    // at 10 % load nothing queues, so no TTFT is longer than that.
    expect(light.ttftP99Ms).toBeLessThan(11_500);
    const heavy = hotReference(buildTrace(3, 60_000, 40_000, { steady: 0.8, burst: 1.5 }));
    expect(heavy.ttftP99Ms).toBeGreaterThan(light.ttftP99Ms);
    // A slower pool serves fewer requests in the burst window.
    expect(hotReference(buildTrace(3, 60_000, 40_000), 1.5).burstThroughputRps).toBeLessThan(heavy.burstThroughputRps);
  });
});

describe('bench:scheduling', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scheduling-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--json writes the scenario and one entry per strategy, in unscaled units', async () => {
    const out = join(dir, 'out.json');
    const md = join(dir, 'out.md');
    const { stdout } = await promisify(execFile)(process.execPath, [main, '--quick', '--scale', '0.2', '--strategies', 'predictive,least-in-flight', '--json', out, '--md', md], {
      timeout: 60_000,
    });
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
      for (const u of [...Object.values(s.utilization), ...Object.values(s.burstUtilization)] as number[]) {
        expect(u).toBeGreaterThanOrEqual(0);
        expect(u).toBeLessThanOrEqual(1.01);
      }
      expect(Object.keys(s.burstUtilization).sort()).toEqual(['cpu-box', 'gpu-large', 'gpu-mid', 'gpu-small']);
      // Every node serves llama3.2, so there is always a group to compare; (max − min) ÷ mean is at most n for n nodes.
      for (const x of [s.imbalance, s.burstImbalance]) {
        expect(typeof x).toBe('number');
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(4);
      }
    }
    expect(stdout).toMatch(/utilization in the burst/);
    for (const s of r.strategies) {
      // The capacity self-check: hot requests ran, at about their nominal speed (loose: a busy CI box).
      expect(s.hotSlotRatio).toBeGreaterThan(0.9);
      expect(s.measuredHotCapacityRps).toBeGreaterThan(0);
      expect(Object.keys(s.hotSlotRatioByNode).sort()).toEqual(['cpu-box', 'gpu-large', 'gpu-mid', 'gpu-small']);
      // Every cold binding has one cause, and the causes line up with the trace (no NaN).
      const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
      expect(sum(s.coldBoundByCause)).toBe(sum(s.coldBoundByPhase));
    }
    expect(stdout).toMatch(/hot slot time ÷ nominal/);
    expect(r.reference).toMatchObject({ slowdown: expect.any(Number), ttftP99Ms: expect.any(Number), burstThroughputRps: expect.any(Number) });
    expect(r.targets.map((t: { name: string }) => t.name)).toHaveLength(4);
    expect(readFileSync(md, 'utf8')).toMatch(/\| least-in-flight/);
  }, 90_000);
});
