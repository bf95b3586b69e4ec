import { BlockingWaitStrategy, LiteBlockingWaitStrategy, Sequence, SequenceBarrier, SingleProducerSequencer, type WaitStrategy } from '../src';

/** Lets every queued microtask run, but no timer, immediate or I/O callback. */
async function microtasksOnly(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

const strategies: [string, () => WaitStrategy][] = [
  ['blocking', () => new BlockingWaitStrategy()],
  ['lite-blocking', () => new LiteBlockingWaitStrategy()],
];

describe.each(strategies)('%s: a consumer on the publishing thread', (_name, make) => {
  // On a busy event loop a futex wake reaches an async sleeper only a whole loop turn later; an
  // inline stage must instead see its upstream's publish before any other callback runs.
  test('wakes within the same macrotask as the publish', async () => {
    const seq = new SingleProducerSequencer(8, make());
    const barrier = new SequenceBarrier(seq);
    let seen = -1;
    const waiting = barrier.waitForAsync(0).then((hi) => (seen = hi));
    await microtasksOnly(); // the consumer is now asleep on the cursor
    expect(seen).toBe(-1);
    const s = seq.next();
    seq.publish(s);
    await microtasksOnly();
    expect(seen).toBe(0);
    await waiting;
  });

  test('a sleep that times out still ends, and a later wake finds no stale sleeper', async () => {
    const seq = new SingleProducerSequencer(8, make());
    const consumer = new Sequence();
    seq.addGatingSequences(consumer);
    const word = seq.cursor.signal;
    await word.sleepAsync(word.generation(), 5); // resolves by its timeout
    let woke = false;
    const again = word.sleepAsync(word.generation(), 0).then(() => (woke = true));
    word.wake();
    await microtasksOnly();
    expect(woke).toBe(true);
    await again;
  });
});
