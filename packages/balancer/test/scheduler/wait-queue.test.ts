import { WaitQueue, type Waiting } from '../../src/scheduler/wait-queue';

let seq = 0;
function w(requestId: number, o: Partial<Omit<Waiting, 'requestId'>> = {}): Waiting {
  return { requestId, priority: 0, deadline: Infinity, arrivedAt: 0, seq: ++seq, model: 'm:latest', ...o };
}

const ids = (q: WaitQueue) => q.inOrder().map((x) => x.requestId);

describe('WaitQueue ordering', () => {
  test.each<[string, Waiting[], number[]]>([
    ['higher priority first', [w(1, { priority: 0 }), w(2, { priority: 5 }), w(3, { priority: -1 })], [2, 1, 3]],
    ['negative priorities sort below 0', [w(1, { priority: -10 }), w(2, { priority: -1 })], [2, 1]],
    ['equal priority: earlier deadline first', [w(1, { deadline: 300 }), w(2, { deadline: 100 }), w(3, { deadline: 200 })], [2, 3, 1]],
    ['a deadline beats none (Infinity)', [w(1), w(2, { deadline: 10_000 })], [2, 1]],
    ['priority beats deadline', [w(1, { deadline: 1 }), w(2, { priority: 1, deadline: 9_999 })], [2, 1]],
    ['equal priority and deadline: earlier arrival first', [w(1, { arrivedAt: 50 }), w(2, { arrivedAt: 10 }), w(3, { arrivedAt: 30 })], [2, 3, 1]],
    ['all equal: seq (FIFO)', [w(1, { seq: 3 }), w(2, { seq: 1 }), w(3, { seq: 2 })], [2, 3, 1]],
    [
      'full order',
      [
        w(1, { priority: 0, deadline: 100, arrivedAt: 5 }),
        w(2, { priority: 0, deadline: 100, arrivedAt: 1 }),
        w(3, { priority: 1, deadline: 500, arrivedAt: 9 }),
        w(4, { priority: 0, deadline: 50, arrivedAt: 9 }),
        w(5, { priority: 1, deadline: 400, arrivedAt: 9 }),
      ],
      [5, 3, 4, 2, 1],
    ],
  ])('%s', (_name, items, expected) => {
    const q = new WaitQueue();
    for (const x of items) q.push(x);
    expect(ids(q)).toEqual(expected);
    // The order does not depend on insertion order.
    const r = new WaitQueue();
    for (const x of [...items].reverse()) r.push(x);
    expect(ids(r)).toEqual(expected);
  });

  test('many identical keys keep insertion (seq) order', () => {
    const q = new WaitQueue();
    for (let i = 1; i <= 50; i++) q.push(w(i));
    expect(ids(q)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  test('matches a reference sort on random inputs', () => {
    let x = 12345;
    const rnd = (n: number) => (x = (x * 1103515245 + 12345) & 0x7fffffff) % n;
    const q = new WaitQueue();
    const all: Waiting[] = [];
    for (let i = 1; i <= 300; i++) {
      const item = w(i, { priority: rnd(3) - 1, deadline: rnd(4) === 0 ? Infinity : rnd(5) * 100, arrivedAt: rnd(4) });
      all.push(item);
      q.push(item);
    }
    const ref = [...all].sort((a, b) => b.priority - a.priority || cmp(a.deadline, b.deadline) || a.arrivedAt - b.arrivedAt || a.seq - b.seq);
    expect(ids(q)).toEqual(ref.map((i) => i.requestId));
  });
});

function cmp(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

describe('WaitQueue bookkeeping', () => {
  test('remove returns the item, keeps the order of the rest, and is idempotent', () => {
    const q = new WaitQueue();
    [w(1, { priority: 3 }), w(2, { priority: 2 }), w(3, { priority: 1 })].forEach((x) => q.push(x));
    expect(q.remove(2)?.requestId).toBe(2);
    expect(ids(q)).toEqual([1, 3]);
    expect(q.remove(2)).toBeUndefined();
    expect(q.remove(99)).toBeUndefined();
    expect(q.size).toBe(2);
    expect(q.has(1)).toBe(true);
    expect(q.has(2)).toBe(false);
  });

  test('depth by model follows push and remove, and forgets models at 0', () => {
    const q = new WaitQueue();
    q.push(w(1, { model: 'a:latest' }));
    q.push(w(2, { model: 'a:latest' }));
    q.push(w(3, { model: 'b:latest' }));
    expect(Object.fromEntries(q.depthByModel())).toEqual({ 'a:latest': 2, 'b:latest': 1 });
    expect(q.depthFor('a:latest')).toBe(2);
    q.remove(3);
    expect(q.depthFor('b:latest')).toBe(0);
    expect([...q.depthByModel().keys()]).toEqual(['a:latest']);
    q.remove(1);
    q.remove(2);
    expect(q.depthByModel().size).toBe(0);
    q.remove(1); // removing a missing id does not drive counts negative
    expect(q.depthFor('a:latest')).toBe(0);
  });

  test('inOrder is a snapshot: removing while iterating visits every item once', () => {
    const q = new WaitQueue();
    for (let i = 1; i <= 5; i++) q.push(w(i));
    const seen: number[] = [];
    for (const x of q.inOrder()) {
      seen.push(x.requestId);
      q.remove(x.requestId);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(q.size).toBe(0);
  });

  test.each<[string, number[], number]>([
    ['empty queue', [], Infinity],
    ['no deadlines', [Infinity, Infinity], Infinity],
    ['min of deadlines', [300, 100, Infinity, 200], 100],
  ])('earliestDeadline: %s', (_name, deadlines, expected) => {
    const q = new WaitQueue();
    deadlines.forEach((d, i) => q.push(w(i + 1, { deadline: d })));
    expect(q.earliestDeadline()).toBe(expected);
  });

  test('earliestDeadline looks past priority order (a low-priority waiter may expire first)', () => {
    const q = new WaitQueue();
    q.push(w(1, { priority: 5, deadline: 1_000 }));
    q.push(w(2, { priority: 0, deadline: 10 }));
    expect(q.earliestDeadline()).toBe(10);
    q.remove(2);
    expect(q.earliestDeadline()).toBe(1_000);
  });
});
