// The short soak and chaos runs of scripts/test: the real gateway over three emulated nodes, many
// concurrent clients on every route kind, streamed and not; with chaos, faults on the nodes, config
// reloads and admin changes under load. Checked: every request ends exactly once within the bound,
// nothing stays in flight, no node ever serves more at once than its slots, the pool serves again.
// The long runs: `pnpm test:soak --minutes N`.
import { startInProcess, type SoakEnv } from '../../../../bench/src/soak/gateway';
import { runSoak, type SoakResult } from '../../../../bench/src/soak/run';

function expectInvariants(r: SoakResult): void {
  expect(r.examples).toEqual([]);
  expect(r.violations).toBe(0);
  expect(r.unsettled).toBeUndefined();
  for (const p of r.peaks) expect(p).toMatchObject({ peak: expect.any(Number) as number, slots: p.slots });
  expect(r.peaks.filter((p) => p.peak > p.slots)).toEqual([]);
  // The load filled some node to its slots: the check above could have failed.
  expect(r.peaks.some((p) => p.peak === p.slots)).toBe(true);
  expect(r.afterwards).toEqual([]);
  expect(r.adminFailures).toEqual([]);
}

describe('soak and chaos, short', () => {
  let env: SoakEnv;
  beforeAll(async () => {
    env = await startInProcess();
  });
  afterAll(() => env.close());

  test('soak without faults: every request succeeds, once', async () => {
    const r = await runSoak({ ...env, durationMs: 6_000, concurrency: 16, chaos: false, abortRate: 0.05, seed: 11 });
    expectInvariants(r);
    expect(r.requests).toBeGreaterThan(100);
    expect(Object.keys(r.byEnd).sort()).toEqual(['client-abort', 'ok']);
  }, 60_000);

  test('chaos: faults, reloads and admin changes under load', async () => {
    const r = await runSoak({ ...env, durationMs: 20_000, concurrency: 24, chaos: true, chaosEveryMs: 150, seed: 12, inBandErrors: true });
    expectInvariants(r);
    expect(r.requests).toBeGreaterThan(200);
    // The chaos did happen, and it did disturb some requests.
    expect(Object.keys(r.chaos).length).toBeGreaterThanOrEqual(8);
    expect((r.byEnd['http-5xx'] ?? 0) + (r.byEnd['network-error'] ?? 0) + (r.byEnd['in-band-error'] ?? 0)).toBeGreaterThan(0);
    expect(r.latencyMs.max).toBeLessThan(r.boundMs);
  }, 120_000);
});
