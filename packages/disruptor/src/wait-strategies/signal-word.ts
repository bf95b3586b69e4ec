/**
 * The futex word behind the blocking strategies: a generation counter that sleepers wait on, and
 * a count (or flag) of sleepers, each on its own 64-byte line.
 *
 * The protocol that makes a lost wake-up impossible: a sleeper reads the generation, registers,
 * then re-checks its condition before it sleeps on that generation. A signaller first publishes
 * (an Atomics store), then reads the registration. Atomics are sequentially consistent, so either
 * the sleeper's re-check sees the publish, or the signaller sees the registration and bumps the
 * generation, which makes the sleep return at once.
 */
export const GEN = 0;
export const WAITERS = 16;
const BYTES = 32 * 4;

export class SignalWord {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(BYTES);
    this.words = new Int32Array(this.sab);
  }

  generation(): number {
    return Atomics.load(this.words, GEN);
  }

  register(): void {
    Atomics.add(this.words, WAITERS, 1);
  }

  unregister(): void {
    Atomics.sub(this.words, WAITERS, 1);
  }

  hasWaiters(): boolean {
    return Atomics.load(this.words, WAITERS) > 0;
  }

  /** Bumps the generation and wakes all sleepers. */
  wake(): void {
    Atomics.add(this.words, GEN, 1);
    Atomics.notify(this.words, GEN);
  }

  /** Blocks this thread until the generation moves from `gen` or `maxMs` passes. Worker threads only. */
  sleepSync(gen: number, maxMs: number): void {
    Atomics.wait(this.words, GEN, gen, maxMs > 0 ? maxMs : Infinity);
  }

  /** Resolves when the generation moves from `gen` or `maxMs` passes; never blocks. */
  sleepAsync(gen: number, maxMs: number): Promise<void> {
    const r = Atomics.waitAsync(this.words, GEN, gen, maxMs > 0 ? maxMs : Infinity);
    return r.async ? r.value.then(noop) : Promise.resolve();
  }
}

function noop(): void {}
