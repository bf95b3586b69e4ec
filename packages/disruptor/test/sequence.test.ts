import { Sequence, SequenceGroup, minimumSequence, seqAdd, seqGe, seqGt, seqLe, seqLt } from '../src';

const MAX = 0x7fffffff;
const MIN = -0x80000000;

describe('wrap-safe comparison', () => {
  test.each([
    // a, b, a<b
    [1, 2, true],
    [2, 1, false],
    [5, 5, false],
    [-1, 0, true],
    [MAX, MIN, true], // MIN is MAX + 1 after the wrap
    [MAX - 10, seqAdd(MAX, 10), true],
    [seqAdd(MAX, 10), MAX - 10, false],
    [MIN, MAX, false],
  ])('seqLt(%i, %i) is %p', (a, b, lt) => {
    expect(seqLt(a, b)).toBe(lt);
    expect(seqGe(a, b)).toBe(!lt);
    expect(seqGt(b, a)).toBe(lt);
    expect(seqLe(b, a)).toBe(!lt);
  });

  test('seqAdd wraps into negative int32', () => {
    expect(seqAdd(MAX, 1)).toBe(MIN);
    expect(seqAdd(MIN, -1)).toBe(MAX);
  });
});

describe('Sequence', () => {
  test('starts at -1 and supports atomic updates', () => {
    const s = new Sequence();
    expect(s.get()).toBe(-1);
    expect(s.incrementAndGet()).toBe(0);
    expect(s.addAndGet(5)).toBe(5);
    expect(s.getAndAdd(2)).toBe(5);
    expect(s.compareAndSet(7, 9)).toBe(true);
    expect(s.compareAndSet(7, 10)).toBe(false);
    expect(s.get()).toBe(9);
  });

  test('increment across the int32 wrap point', () => {
    const s = new Sequence(MAX);
    expect(s.incrementAndGet()).toBe(MIN);
  });

  test('attach shares the same cell', () => {
    const a = new Sequence(3);
    const b = Sequence.attach(a.sab);
    b.set(11);
    expect(a.get()).toBe(11);
  });

  test('each sequence owns its cache line: the cell sits 64 bytes from either end', () => {
    const s = new Sequence(1);
    const words = new Int32Array(s.sab);
    expect(s.sab.byteLength).toBeGreaterThanOrEqual(128 + 4);
    expect(words[16]).toBe(1);
    expect([...words].filter((w) => w !== 0)).toEqual([1]);
  });
});

describe('SequenceGroup and minimumSequence', () => {
  test('minimum is wrap-safe', () => {
    const a = new Sequence(MAX);
    const b = new Sequence(seqAdd(MAX, 3));
    expect(minimumSequence([a, b], seqAdd(MAX, 100))).toBe(MAX);
    const g = new SequenceGroup([b, a]);
    expect(g.get()).toBe(MAX);
    g.remove(a);
    expect(g.get()).toBe(seqAdd(MAX, 3));
  });

  test('empty group refuses to answer', () => {
    expect(() => new SequenceGroup().get()).toThrow(RangeError);
    expect(minimumSequence([], 42)).toBe(42);
  });
});
