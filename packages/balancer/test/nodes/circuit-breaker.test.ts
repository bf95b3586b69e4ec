// The breaker's state machine, driven step by step with the clock passed in.
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from '../../src/nodes/circuit-breaker';

const OPTS: CircuitBreakerOptions = { failureThreshold: 3, recoveryMs: 1_000, halfOpenRequests: 1 };

type Step =
  | ['fail', number]
  | ['fail', number, 'trial']
  | ['ok']
  | ['ok', 'trial']
  | ['attempt', number]
  | ['trip', number]
  | ['abandon']
  | ['allow']
  | ['can', number, boolean]
  | ['state', BreakerState];

function run(steps: Step[], opts: CircuitBreakerOptions = OPTS): CircuitBreaker {
  const b = new CircuitBreaker(opts);
  steps.forEach((s, i) => {
    const where = `step ${i}: ${JSON.stringify(s)}`;
    switch (s[0]) {
      case 'fail':
        b.onFailure(s[1], s[2] === 'trial');
        break;
      case 'ok':
        b.onSuccess(s[1] === 'trial');
        break;
      case 'attempt':
        b.onAttempt(s[1]);
        break;
      case 'trip':
        b.trip(s[1]);
        break;
      case 'abandon':
        b.onTrialAbandoned();
        break;
      case 'allow':
        b.allowTrials();
        break;
      case 'can':
        expect([where, b.canAttempt(s[1])]).toEqual([where, s[2]]);
        break;
      case 'state':
        expect([where, b.state]).toEqual([where, s[1]]);
        break;
    }
  });
  return b;
}

describe('CircuitBreaker', () => {
  test.each<[string, Step[]]>([
    [
      'starts closed and admits',
      [
        ['state', 'closed'],
        ['can', 0, true],
      ],
    ],
    [
      'stays closed below the threshold',
      [
        ['fail', 0],
        ['fail', 1],
        ['state', 'closed'],
        ['can', 2, true],
      ],
    ],
    [
      'opens at exactly N consecutive failures',
      [
        ['fail', 0],
        ['fail', 1],
        ['fail', 2],
        ['state', 'open'],
        ['can', 3, false],
      ],
    ],
    ['a success resets the consecutive count', [['fail', 0], ['fail', 1], ['ok'], ['fail', 2], ['fail', 3], ['state', 'closed'], ['fail', 4], ['state', 'open']]],
    [
      'open refuses until recoveryMs has passed',
      [
        ['trip', 100],
        ['can', 100, false],
        ['can', 1_099, false],
        ['state', 'open'],
      ],
    ],
    [
      'open → half-open exactly at recoveryMs',
      [
        ['trip', 100],
        ['can', 1_100, true],
        ['state', 'half-open'],
      ],
    ],
    [
      'half-open admits one trial at a time (halfOpenRequests 1)',
      [
        ['trip', 0],
        ['attempt', 1_000],
        ['state', 'half-open'],
        ['can', 1_001, false],
        ['can', 50_000, false],
      ],
    ],
    [
      'a trial success closes it',
      [
        ['trip', 0],
        ['attempt', 1_000],
        ['ok', 'trial'],
        ['state', 'closed'],
        ['can', 1_001, true],
      ],
    ],
    [
      'a trial still running when the breaker re-opens keeps its place in the next half-open episode',
      [['trip', 0], ['attempt', 1_000], ['fail', 1_100], ['state', 'open'], ['can', 2_100, false], ['state', 'half-open'], ['abandon'], ['can', 2_100, true]],
    ],
    [
      'a stale trial ending in a later episode frees only its own place (never more trials than halfOpenRequests)',
      [
        ['trip', 0],
        ['attempt', 1_000],
        ['trip', 1_100],
        ['allow'],
        ['can', 1_100, false],
        ['ok', 'trial'],
        ['state', 'closed'],
        ['trip', 1_200],
        ['allow'],
        ['attempt', 1_200],
        ['can', 1_200, false],
      ],
    ],
    [
      'a trial failure re-opens it, with a fresh recovery period',
      [
        ['trip', 0],
        ['attempt', 1_000],
        ['fail', 1_500, 'trial'],
        ['state', 'open'],
        ['can', 2_499, false],
        ['can', 2_500, true],
      ],
    ],
    [
      'a single failure in half-open re-opens (no threshold there)',
      [
        ['fail', 0],
        ['fail', 0],
        ['fail', 0],
        ['can', 1_000, true],
        ['fail', 1_000],
        ['state', 'open'],
      ],
    ],
    ['an abandoned trial frees its place', [['trip', 0], ['attempt', 1_000], ['can', 1_000, false], ['abandon'], ['can', 1_000, true], ['state', 'half-open']]],
    ['abandon outside half-open changes nothing', [['abandon'], ['state', 'closed'], ['trip', 0], ['abandon'], ['state', 'open'], ['can', 10, false]]],
    [
      'trip opens a closed breaker at once',
      [
        ['trip', 5],
        ['state', 'open'],
        ['can', 5, false],
      ],
    ],
    [
      'trip from half-open re-opens',
      [
        ['trip', 0],
        ['can', 1_000, true],
        ['trip', 1_000],
        ['state', 'open'],
        ['can', 1_999, false],
      ],
    ],
    [
      'trip while open restarts the recovery clock',
      [
        ['trip', 0],
        ['trip', 900],
        ['can', 1_000, false],
        ['can', 1_900, true],
      ],
    ],
    [
      'attempts while closed are not counted as trials',
      [
        ['attempt', 0],
        ['attempt', 0],
        ['attempt', 0],
        ['can', 0, true],
      ],
    ],
    [
      'failures while open do not extend the open period',
      [
        ['trip', 0],
        ['fail', 500],
        ['fail', 900],
        ['can', 1_000, true],
      ],
    ],
    ['a success while open does not close it', [['trip', 0], ['ok'], ['state', 'open'], ['can', 10, false]]],
    ['allowTrials: open → half-open at once (the node answers health checks again)', [['trip', 0], ['allow'], ['state', 'half-open'], ['can', 1, true]]],
    ['allowTrials admits trials one at a time', [['trip', 0], ['allow'], ['attempt', 1], ['can', 1, false], ['ok'], ['state', 'closed']]],
    ['allowTrials does not reset the trials of a half-open breaker', [['trip', 0], ['can', 1_000, true], ['attempt', 1_000], ['allow'], ['can', 1_000, false]]],
    ['allowTrials leaves a closed breaker closed', [['fail', 0], ['allow'], ['state', 'closed'], ['fail', 0], ['fail', 0], ['state', 'open']]],
  ])('%s', (_name, steps) => {
    run(steps);
  });

  test('half-open admits at most halfOpenRequests trials at once', () => {
    const b = run([['trip', 0]], { ...OPTS, halfOpenRequests: 3 });
    const admitted: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const can = b.canAttempt(1_000);
      admitted.push(can);
      if (can) b.onAttempt(1_000);
    }
    expect(admitted).toEqual([true, true, true, false, false]);
    b.onTrialAbandoned();
    expect(b.canAttempt(1_000)).toBe(true);
  });

  test('opens counts transitions into open, not repeated trips', () => {
    const b = run([
      ['fail', 0],
      ['fail', 0],
      ['fail', 0],
      ['trip', 1],
      ['fail', 2],
    ]);
    expect(b.opens).toBe(1);
    b.canAttempt(2_000); // half-open
    b.onFailure(2_000);
    expect(b.opens).toBe(2);
  });

  test('the breaker copies its options (mutating the caller object has no effect)', () => {
    const opts = { ...OPTS };
    const b = new CircuitBreaker(opts);
    opts.failureThreshold = 1;
    b.onFailure(0);
    expect(b.state).toBe('closed');
  });

  describe('reconfigure', () => {
    test('keeps the state and the failure count; new thresholds apply from the next event', () => {
      const b = run([
        ['fail', 0],
        ['fail', 0],
      ]);
      b.reconfigure({ ...OPTS, failureThreshold: 10 });
      b.onFailure(0);
      expect(b.state).toBe('closed');
      b.reconfigure({ ...OPTS, failureThreshold: 2 });
      expect(b.state).toBe('closed'); // no retroactive opening
      b.onFailure(0);
      expect(b.state).toBe('open');
    });

    test('a shorter recovery applies to a breaker that is already open', () => {
      const b = run([['trip', 0]]);
      b.reconfigure({ ...OPTS, recoveryMs: 100 });
      expect(b.state).toBe('open');
      expect(b.canAttempt(100)).toBe(true);
      expect(b.state).toBe('half-open');
    });

    test('more half-open places apply at once', () => {
      const b = run([
        ['trip', 0],
        ['attempt', 1_000],
        ['can', 1_000, false],
      ]);
      b.reconfigure({ ...OPTS, halfOpenRequests: 2 });
      expect(b.canAttempt(1_000)).toBe(true);
    });
  });
});
