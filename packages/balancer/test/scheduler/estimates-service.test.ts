import { Estimates } from '../../src';

describe('Estimates: service time', () => {
  test.each([
    ['a hot request', 0, 1_000, 1_000],
    ['a cold request: its load is not service time', 3_000, 4_000, 1_000],
    ['a few ms of load_duration on a hot model is not a load', 20, 1_000, 1_000],
  ])('%s', (_l, loadMs, latencyMs, service) => {
    const e = new Estimates();
    const stats = { loadMs, promptTokens: 10, promptEvalMs: 10, evalTokens: 10, evalMs: 100, totalMs: latencyMs };
    e.recordCompletion('n', 'm:latest', stats, { ttftMs: 100, latencyMs });
    expect(e.serviceMs('n', 'm:latest')).toBe(service);
  });
});
