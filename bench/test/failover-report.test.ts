import { FAULTS } from '../src/failover/faults';
import { faultTable, summariseFault } from '../src/failover/report';
import type { FaultRun } from '../src/failover/run';

const fault = (name: string) => FAULTS.find((f) => f.name === name)!;
const run = (over: Partial<FaultRun>): FaultRun => ({
  fault: 'x',
  firstMissMs: 500,
  outAfterMissMs: 2,
  servedElsewhereMs: 600,
  affected: 3,
  streamExtraP50: 500,
  streamExtraMax: 700,
  answerExtraP50: 600,
  answerExtraMax: 800,
  lost: 0,
  cut: 0,
  shareBefore: 0.33,
  shareDuring: 0,
  suspicions: 1,
  breakerAtEnd: 'open',
  total: 60,
  errors: 0,
  ...over,
});

describe('bench:failover targets', () => {
  test('a hung node met: out at once after the first miss, nothing lost, extra under a second', () => {
    const s = summariseFault(fault('hang-before-headers'), [run({}), run({ outAfterMissMs: 5 }), run({})]);
    expect(s.met).toBe(true);
    expect(s.outAfterMissMs).toBe(2);
    expect(faultTable([s])).toContain('| met');
  });

  test('each missed target is named: lost requests, late first bytes and answers, a late exit', () => {
    const s = summariseFault(fault('hang-before-first-token'), [run({ lost: 1, streamExtraMax: 1_500, answerExtraMax: 15_000, outAfterMissMs: 1_200 })]);
    expect(s.met).toBe(false);
    expect(s.notes.join('; ')).toMatch(/1 requests lost.*out of rotation 1200 ms.*first byte up to 1500 ms.*answers up to 15000 ms/);
  });

  test('an error fault is not held to the 1 s exit after a deadline (it has none), only to losing nothing', () => {
    expect(summariseFault(fault('503-storm'), [run({ outAfterMissMs: 2_000 })]).met).toBe(true);
    expect(summariseFault(fault('503-storm'), [run({ lost: 2 })]).met).toBe(false);
  });

  test('a slow node must be used less, and not dropped', () => {
    expect(summariseFault(fault('slow-5x'), [run({ shareBefore: 0.33, shareDuring: 0.1, breakerAtEnd: 'closed' })]).met).toBe(true);
    expect(summariseFault(fault('slow-5x'), [run({ shareBefore: 0.33, shareDuring: 0, breakerAtEnd: 'closed' })]).notes).toContain('the slow node was dropped');
    expect(summariseFault(fault('slow-5x'), [run({ shareBefore: 0.33, shareDuring: 0.4, breakerAtEnd: 'open' })]).notes).toEqual([
      'the slow node was not used less',
      'the slow node’s breaker opened',
    ]);
  });
});

test('a stall is held to losing nothing and a prompt exit, not to the 1 s extra (it pays the stall deadline)', () => {
  const s = FAULTS.find((f) => f.name === 'stall-mid-stream')!;
  expect(summariseFault(s, [run({ answerExtraMax: 2_500 })]).met).toBe(true);
  expect(summariseFault(s, [run({ outAfterMissMs: 1_500 })]).met).toBe(false);
});
