import {
  BlockingWaitStrategy,
  IllegalStateError,
  InsufficientCapacityError,
  InvalidArgumentError,
  MultiProducerSequencer,
  Sequence,
  SingleProducerSequencer,
  seqAdd,
  type Sequencer,
} from '../src';

const NEAR_WRAP = 0x7fffffff - 5;
const kinds = [
  ['single', (size: number, initial: number) => new SingleProducerSequencer(size, new BlockingWaitStrategy(), initial)],
  ['multi', (size: number, initial: number) => new MultiProducerSequencer(size, new BlockingWaitStrategy(), initial)],
] as const;
const starts = [
  ['from -1', -1],
  ['just below the int32 wrap', NEAR_WRAP],
] as const;

describe.each(kinds)('%s-producer sequencer', (_kind, make) => {
  describe.each(starts)('%s', (_label, initial) => {
    let seq: Sequencer;
    let consumer: Sequence;
    beforeEach(() => {
      seq = make(8, initial);
      consumer = new Sequence(initial);
      seq.addGatingSequences(consumer);
    });

    test('claims and publishes in order, and crosses the wrap', () => {
      for (let i = 1; i <= 20; i++) {
        const s = seq.next();
        expect(s).toBe(seqAdd(initial, i));
        if (_kind === 'multi') expect(seq.isAvailable(s)).toBe(false);
        seq.publish(s);
        expect(seq.isAvailable(s)).toBe(true);
        consumer.set(s);
      }
    });

    test('tryNext throws InsufficientCapacityError when the ring is full, and recovers', () => {
      const hi = seq.tryNext(8);
      seq.publishRange(seqAdd(hi, -7), hi);
      expect(seq.remainingCapacity()).toBe(0);
      expect(() => seq.tryNext()).toThrow(InsufficientCapacityError);
      consumer.set(seqAdd(initial, 3));
      expect(seq.remainingCapacity()).toBe(3);
      expect(seq.tryNext(3)).toBe(seqAdd(hi, 3));
      expect(() => seq.tryNext()).toThrow(InsufficientCapacityError);
    });

    test('next() on the main thread refuses to block on a full ring', () => {
      seq.publishRange(seqAdd(initial, 1), seq.next(8));
      expect(() => seq.next()).toThrow(IllegalStateError);
      // and the refusal leaves no claimed-but-unpublished hole behind
      consumer.set(seqAdd(initial, 1));
      expect(seq.next()).toBe(seqAdd(initial, 9));
    });

    test('nextAsync waits for the consumer, then claims', async () => {
      seq.publishRange(seqAdd(initial, 1), seq.next(8));
      let claimed: number | undefined;
      const p = seq.nextAsync(2).then((s) => (claimed = s));
      await new Promise((r) => setTimeout(r, 20));
      expect(claimed).toBeUndefined();
      consumer.set(seqAdd(initial, 2));
      seq.waitStrategy.signal(consumer.signal);
      await p;
      expect(claimed).toBe(seqAdd(initial, 10));
    });

    test('halt stops claims and wakes waiting producers with an error', async () => {
      seq.publishRange(seqAdd(initial, 1), seq.next(8));
      const waiting = seq.nextAsync();
      seq.halt('test');
      await expect(waiting).rejects.toThrow(IllegalStateError);
      expect(() => seq.tryNext()).toThrow(/halted: test/);
    });

    test.each([0, -1, 9, 1.5])('rejects a claim of %p slots', (n) => {
      expect(() => seq.tryNext(n)).toThrow(InvalidArgumentError);
    });
  });
});

describe('multi-producer publication', () => {
  test('consumers see only the contiguously published prefix', () => {
    const seq = new MultiProducerSequencer(8, new BlockingWaitStrategy());
    const a = seq.next(); // 0
    const b = seq.next(); // 1
    const c = seq.next(); // 2
    seq.publish(c);
    seq.publish(a);
    expect(seq.getHighestPublishedSequence(0, 2)).toBe(0);
    seq.publish(b);
    expect(seq.getHighestPublishedSequence(0, 2)).toBe(2);
  });

  test('a lap flag from the previous lap does not read as published', () => {
    const seq = new MultiProducerSequencer(4, new BlockingWaitStrategy(), 0x7fffffff - 2);
    const consumer = new Sequence(0x7fffffff - 2);
    seq.addGatingSequences(consumer);
    for (let lap = 0; lap < 5; lap++) {
      const hi = seq.next(4);
      const lo = seqAdd(hi, -3);
      for (let s = lo; s !== seqAdd(hi, 1); s = seqAdd(s, 1)) expect(seq.isAvailable(s)).toBe(false);
      seq.publishRange(lo, hi);
      expect(seq.getHighestPublishedSequence(lo, hi)).toBe(hi);
      consumer.set(hi);
    }
  });
});

describe('ring size', () => {
  test.each([0, 3, 6, 2 ** 31])('rejects %p', (size) => {
    expect(() => new SingleProducerSequencer(size, new BlockingWaitStrategy())).toThrow(InvalidArgumentError);
  });
});

describe('a producer that attaches late (another thread)', () => {
  test.each([
    ['single', SingleProducerSequencer],
    ['multi', MultiProducerSequencer],
  ] as const)('%s: respects consumers that lag the cursor', (_k, Cls) => {
    const original = new Cls(8, new BlockingWaitStrategy());
    const consumer = new Sequence();
    original.addGatingSequences(consumer);
    original.publishRange(0, original.next(6)); // cursor 5, consumer still at -1
    const late = Cls.attach(original.describe(), new BlockingWaitStrategy());
    expect(late.tryNext(2)).toBe(7);
    expect(() => late.tryNext(1)).toThrow(InsufficientCapacityError);
  });
});
