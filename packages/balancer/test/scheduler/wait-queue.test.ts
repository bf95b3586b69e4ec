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
    ['one key, one priority: arrival (FIFO)', [w(1), w(2), w(3)], [1, 2, 3]],
    ['a retried request goes ahead of its key', [w(1), w(2), w(3, { retry: true })], [3, 1, 2]],
    [
      'every interactive request before any batch line, whatever the priorities',
      [w(1, { requestClass: 'batch', priority: 100 }), w(2, { priority: -5 }), w(3, { requestClass: 'batch' }), w(4)],
      [4, 2, 1, 3],
    ],
    ['priority within the batch class', [w(1, { requestClass: 'batch' }), w(2, { requestClass: 'batch', priority: 1 })], [2, 1]],
    [
      'keys take turns within a priority',
      [w(1, { clientKey: 'a' }), w(2, { clientKey: 'a' }), w(3, { clientKey: 'a' }), w(4, { clientKey: 'b' }), w(5, { clientKey: 'b' }), w(6)],
      [1, 4, 6, 2, 5, 3],
    ],
    ['priority beats fairness', [w(1, { clientKey: 'a' }), w(2, { clientKey: 'a' }), w(3, { clientKey: 'b', priority: -1 }), w(4, { clientKey: 'a', priority: 1 })], [4, 1, 2, 3]],
  ])('%s', (_name, items, expected) => {
    const q = new WaitQueue();
    for (const x of items) q.push(x);
    expect(ids(q)).toEqual(expected);
  });

  test('many requests of one key keep insertion order', () => {
    const q = new WaitQueue();
    for (let i = 1; i <= 50; i++) q.push(w(i));
    expect(ids(q)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  test('a flooding key does not hold back a light one: the light key goes in right after the next of the flood', () => {
    const q = new WaitQueue();
    for (let i = 1; i <= 1000; i++) q.push(w(i, { clientKey: 'flood' }));
    // Serve ten of the flood from the head, as binding does.
    for (let i = 1; i <= 10; i++) q.remove(i, true);
    q.push(w(5000, { clientKey: 'light' }));
    expect(ids(q).indexOf(5000)).toBeLessThanOrEqual(1);
  });

  test('a key behind its share starts at most `burst` requests ahead of the virtual time, however long it was idle', () => {
    const q = new WaitQueue(
      () => 1,
      () => 2,
    );
    // A flood served for a long while: the virtual time has moved far past the idle key's last tag.
    for (let i = 1; i <= 60; i++) q.push(w(i, { clientKey: 'flood' }));
    for (let i = 1; i <= 50; i++) q.remove(i, true);
    for (let i = 101; i <= 105; i++) q.push(w(i, { clientKey: 'idle' }));
    // Its first three (two before the virtual time, one at it) go ahead of the flood; then turns.
    expect(ids(q).slice(0, 9)).toEqual([101, 102, 103, 51, 104, 52, 105, 53, 54]);
  });

  test('served in proportion to the weights while every key keeps requests waiting', () => {
    const weights: Record<string, number> = { a: 1, b: 2, c: 1 };
    const q = new WaitQueue((key) => weights[key ?? ''] ?? 1);
    let id = 0;
    for (const key of ['a', 'b', 'c']) for (let i = 0; i < 400; i++) q.push(w(++id, { clientKey: key }));
    const served: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 400; i++) {
      const head = q.ordered().next().value!;
      served[head.clientKey!]++;
      q.remove(head.requestId, true);
    }
    expect(served).toEqual({ a: 100, b: 200, c: 100 });
  });

  test('the walk matches the reference order on random inputs (class, priority, then turns between keys)', () => {
    let x = 12345;
    const rnd = (n: number) => (x = (x * 1103515245 + 12345) & 0x7fffffff) % n;
    const q = new WaitQueue();
    const all: Waiting[] = [];
    for (let i = 1; i <= 300; i++) {
      const item = w(i, { priority: rnd(3) - 1, requestClass: rnd(3) === 0 ? 'batch' : 'interactive', clientKey: ['a', 'b', 'c'][rnd(3)] });
      all.push(item);
      q.push(item);
    }
    // Reference: per (class, priority), each key's k-th request has turn k; turns first, then arrival.
    const turn = new Map<string, number>();
    const keyed = all.map((it) => {
      const k = `${it.requestClass}/${it.priority}/${it.clientKey}`;
      const t = turn.get(k) ?? 0;
      turn.set(k, t + 1);
      return { it, t };
    });
    const rank = (it: Waiting) => (it.requestClass === 'batch' ? 1 : 0);
    keyed.sort((a, b) => rank(a.it) - rank(b.it) || b.it.priority - a.it.priority || a.t - b.t || a.it.seq - b.it.seq);
    expect(ids(q)).toEqual(keyed.map((k) => k.it.requestId));
  });
});

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

  test('sizes by class follow push and remove', () => {
    const q = new WaitQueue();
    q.push(w(1, { requestClass: 'batch' }));
    q.push(w(2));
    q.push(w(3, { requestClass: 'batch' }));
    expect([q.sizeOf('interactive'), q.sizeOf('batch')]).toEqual([1, 2]);
    q.remove(1);
    q.remove(2);
    expect([q.sizeOf('interactive'), q.sizeOf('batch'), q.size]).toEqual([0, 1, 1]);
  });

  test('replace keeps the place of a request whose model changed', () => {
    const q = new WaitQueue();
    [w(1, { clientKey: 'a' }), w(2, { clientKey: 'a' }), w(3, { clientKey: 'b' })].forEach((x) => q.push(x));
    q.replace({ ...q.get(1)!, model: 'fallback:latest' });
    expect(ids(q)).toEqual([1, 3, 2]);
    expect(q.get(1)?.model).toBe('fallback:latest');
    expect(Object.fromEntries(q.depthByModel())).toEqual({ 'm:latest': 2, 'fallback:latest': 1 });
  });

  test('removing while walking the lazy order visits every other item once', () => {
    const q = new WaitQueue();
    for (let i = 1; i <= 9; i++) q.push(w(i, { clientKey: ['a', 'b', 'c'][i % 3] }));
    const seen: number[] = [];
    for (const x of q.ordered()) {
      seen.push(x.requestId);
      if (x.requestId % 2 === 1) q.remove(x.requestId, true);
    }
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(q.size).toBe(4);
  });

  test('keys and priorities that come and go leave no state behind', () => {
    const q = new WaitQueue();
    for (let i = 1; i <= 5000; i++) {
      q.push(w(i, { clientKey: `ip:${i}`, priority: i % 50 }));
      q.remove(i, true);
    }
    q.push(w(9999));
    // Internal: empty lines and levels were dropped as they piled up.
    const levels = (q as unknown as { levels: { flows: Map<string, unknown> }[] }).levels;
    expect(levels.length).toBeLessThanOrEqual(40);
    expect(levels.reduce((n, l) => n + l.flows.size, 0)).toBeLessThanOrEqual(40);
    expect(ids(q)).toEqual([9999]);
  });

  test('10,000 waiting requests of 100 keys: push, a full walk and removal stay cheap', () => {
    const q = new WaitQueue();
    const t0 = performance.now();
    for (let i = 1; i <= 10_000; i++) q.push(w(i, { clientKey: `k${i % 100}` }));
    let n = 0;
    for (const x of q.ordered()) if (x) n++;
    for (let i = 1; i <= 10_000; i += 2) q.remove(i, true);
    expect(n).toBe(10_000);
    expect(q.size).toBe(5_000);
    // A generous bound for a slow machine: work that grew with the square of the depth would miss it.
    expect(performance.now() - t0).toBeLessThan(2_000);
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
