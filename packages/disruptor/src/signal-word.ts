/**
 * A futex word for one sequence: a generation counter that sleepers wait on, and a count (or flag)
 * of sleepers. Each sequence has its own, so a thread sleeps only on the sequence it is actually
 * behind, and an advance wakes only the threads waiting for that sequence — no thundering herd
 * of every stage on every publish.
 *
 * The protocol that makes a lost wake-up impossible: a sleeper reads the generation, registers,
 * then re-checks its condition before it sleeps on that generation. A signaller first publishes
 * (an Atomics store), then reads the registration. Atomics are sequentially consistent, so either
 * the sleeper's re-check sees the publish, or the signaller sees the registration and bumps the
 * generation, which makes the sleep return at once.
 */
export class SignalWord {
  readonly words: Int32Array;
  readonly gen: number;
  readonly waiters: number;

  /** `gen` and `waiters` are Int32 indices into `words`, each on its own 64-byte line. */
  constructor(words: Int32Array, gen: number, waiters: number) {
    this.words = words;
    this.gen = gen;
    this.waiters = waiters;
  }

  generation(): number {
    return Atomics.load(this.words, this.gen);
  }

  register(): void {
    Atomics.add(this.words, this.waiters, 1);
  }

  unregister(): void {
    Atomics.sub(this.words, this.waiters, 1);
  }

  hasWaiters(): boolean {
    return Atomics.load(this.words, this.waiters) !== 0;
  }

  /** Sets the waiter word to a flag value (lite-blocking uses it as a flag, not a count). */
  raiseFlag(): void {
    Atomics.store(this.words, this.waiters, 1);
  }

  /** Clears the flag; true if it was up, so exactly one signaller pays for the wake-up. */
  takeFlag(): boolean {
    return Atomics.load(this.words, this.waiters) !== 0 && Atomics.exchange(this.words, this.waiters, 0) !== 0;
  }

  /** Bumps the generation and wakes all sleepers: other threads' by futex, this thread's at once. */
  wake(): void {
    Atomics.add(this.words, this.gen, 1);
    Atomics.notify(this.words, this.gen);
    const local = localSleepers(this.words, this.gen, false);
    if (local !== undefined && local.size > 0) {
      const woken = [...local];
      local.clear();
      for (const resolve of woken) resolve();
    }
  }

  /**
   * Bumps the generation and resolves this thread's sleepers, without `Atomics.notify`: for a ring
   * whose every producer and consumer is on this thread (see SameThreadWaitStrategy).
   */
  wakeLocal(): void {
    Atomics.add(this.words, this.gen, 1);
    const local = localSleepers(this.words, this.gen, false);
    if (local !== undefined && local.size > 0) {
      const woken = [...local];
      local.clear();
      for (const resolve of woken) resolve();
    }
  }

  /**
   * Resolves when this thread moves the generation from `gen` ({@link wakeLocal}) or `maxMs` passes.
   * No futex wait: a same-thread wake would otherwise also leave V8 a task to post and run for the
   * `waitAsync` it settles, on every wake.
   */
  sleepLocal(gen: number, maxMs: number): Promise<void> {
    if (Atomics.load(this.words, this.gen) !== gen) return Promise.resolve();
    const local = localSleepers(this.words, this.gen, true)!;
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        local.delete(done);
        resolve();
      };
      if (maxMs > 0) {
        timer = setTimeout(done, maxMs);
        timer.unref();
      }
      local.add(done);
    });
  }

  /** Blocks this thread until the generation moves from `gen` or `maxMs` passes. Worker threads only. */
  sleepSync(gen: number, maxMs: number): void {
    Atomics.wait(this.words, this.gen, gen, maxMs > 0 ? maxMs : Infinity);
  }

  /**
   * Resolves when the generation moves from `gen` or `maxMs` passes; never blocks.
   *
   * A `waitAsync` settles through a task that V8 posts to the event loop, so its sleeper resumes
   * only on a later turn of the loop: on a loop busy with sockets, that is milliseconds per hop
   * (measured: 10 ms at p50 behind 50 callbacks of 0.2 ms). A wake from this same thread — an
   * inline stage publishing to the next inline stage — therefore also resolves the sleeper
   * directly, as a microtask; the futex wait stays for wakes from other threads.
   */
  sleepAsync(gen: number, maxMs: number): Promise<void> {
    const r = Atomics.waitAsync(this.words, this.gen, gen, maxMs > 0 ? maxMs : Infinity);
    if (!r.async) return Promise.resolve();
    const local = localSleepers(this.words, this.gen, true)!;
    return new Promise<void>((resolve) => {
      local.add(resolve);
      void r.value.then(() => {
        local.delete(resolve);
        resolve();
      });
    });
  }
}

/**
 * This thread's async sleepers per futex word. Keyed by the word's shared memory, not by the
 * `SignalWord` object, because the owner of a sequence and a barrier waiting on it may each hold
 * their own view of the same word.
 */
const sleepersByBuffer = new WeakMap<ArrayBufferLike, Map<number, Set<() => void>>>();

function localSleepers(words: Int32Array, index: number, create: boolean): Set<() => void> | undefined {
  let byIndex = sleepersByBuffer.get(words.buffer);
  if (byIndex === undefined) {
    if (!create) return undefined;
    byIndex = new Map();
    sleepersByBuffer.set(words.buffer, byIndex);
  }
  const at = words.byteOffset / 4 + index;
  let set = byIndex.get(at);
  if (set === undefined && create) byIndex.set(at, (set = new Set()));
  return set;
}
