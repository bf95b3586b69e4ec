// The same-thread wait strategy: inline stages and their producer on one thread wake each other
// directly, never through the futex, and a worker thread cannot be given it.
import { Disruptor, IllegalStateError, RecordLayout, SameThreadWaitStrategy, SequenceBarrier, SingleProducerSequencer, createWaitStrategy } from '../src';

async function microtasksOnly(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

test('a consumer asleep on the cursor wakes within the publishing macrotask, with no futex wait', async () => {
  const waitAsync = jest.spyOn(Atomics, 'waitAsync');
  try {
    const seq = new SingleProducerSequencer(8, new SameThreadWaitStrategy());
    const barrier = new SequenceBarrier(seq);
    let seen = -1;
    const waiting = barrier.waitForAsync(0).then((hi) => (seen = hi));
    await microtasksOnly();
    expect(seen).toBe(-1);
    seq.publish(seq.next());
    await microtasksOnly();
    expect(seen).toBe(0);
    await waiting;
    expect(waitAsync).not.toHaveBeenCalled();
  } finally {
    waitAsync.mockRestore();
  }
});

test('a two-stage inline pipeline on it delivers every event, in order, and shuts down clean', async () => {
  const layout = RecordLayout.define({ n: 'int32' });
  const d = new Disruptor({ layout, size: 16, producerType: 'single', waitStrategy: new SameThreadWaitStrategy() });
  const first: number[] = [];
  const second: number[] = [];
  d.handleEventsWith({ onEvent: (e) => void first.push(e.n) }).then({ onEvent: (e) => void second.push(e.n) });
  const ring = await d.start();
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 10; i++) expect(ring.tryPublishEvent((e) => (e.n = round * 10 + i))).toBe(true);
    await new Promise<void>((r) => setImmediate(r));
  }
  const all = Array.from({ length: 50 }, (_, i) => i);
  expect(first).toEqual(all);
  expect(second).toEqual(all);
  await d.shutdown(1_000);
});

test('a sleep with a bound ends when the bound passes, and a later wake finds no stale sleeper', async () => {
  const seq = new SingleProducerSequencer(8, new SameThreadWaitStrategy());
  const word = seq.cursor.signal;
  await word.sleepLocal(word.generation(), 5);
  let woke = false;
  const again = word.sleepLocal(word.generation(), 0).then(() => (woke = true));
  word.wakeLocal();
  await microtasksOnly();
  expect(woke).toBe(true);
  await again;
});

test('a handler thread cannot rebuild it: it would wait for ever', () => {
  expect(new SameThreadWaitStrategy().describe()).toEqual({ kind: 'same-thread' });
  expect(() => createWaitStrategy({ kind: 'same-thread' })).toThrow(IllegalStateError);
  expect(() => new SameThreadWaitStrategy().idleSync()).toThrow(IllegalStateError);
});
