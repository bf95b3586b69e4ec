import { AlertError, WaitTimeoutError } from './errors';
import type { SignalWord } from './signal-word';
import { Sequence, type SequenceReader, seqAdd, seqGe } from './sequence';
import { SequenceGroup, laggardSequence } from './sequence-group';
import type { Sequencer } from './sequencer';

/** Plain, postable data from which a barrier is re-attached on another thread. */
export interface BarrierDescriptor {
  alert: SharedArrayBuffer;
  dependents: SharedArrayBuffer[];
}

/**
 * What a handler waits on: the producer's cursor, or the sequences of the handlers upstream of it.
 * `waitFor(n)` returns the highest sequence that is safe to read (at least `n`), so the caller can
 * take a whole batch. `alert()` wakes every waiter with `AlertError`, on every thread, for shutdown.
 *
 * @example
 * const barrier = new SequenceBarrier(sequencer, [upstream.sequence]);
 * const hi = barrier.waitFor(next); // worker thread
 * const hi2 = await barrier.waitForAsync(next); // main thread
 */
export class SequenceBarrier {
  readonly sequencer: Sequencer;
  private readonly dependents: SequenceReader;
  private readonly dependentList: readonly Sequence[];
  private readonly dependentSabs: SharedArrayBuffer[];
  private readonly alertWord: Int32Array;

  constructor(sequencer: Sequencer, dependents: readonly Sequence[] = [], alert?: SharedArrayBuffer) {
    this.sequencer = sequencer;
    this.dependentSabs = dependents.map((d) => d.sab);
    this.dependentList = [...dependents];
    this.dependents = dependents.length === 0 ? sequencer.cursor : dependents.length === 1 ? dependents[0] : new SequenceGroup(dependents);
    this.alertWord = new Int32Array(alert ?? new SharedArrayBuffer(64));
  }

  /** Re-attaches a barrier on another thread, against that thread's view of the sequencer. */
  static attach(sequencer: Sequencer, d: BarrierDescriptor): SequenceBarrier {
    return new SequenceBarrier(
      sequencer,
      d.dependents.map((s) => Sequence.attach(s)),
      d.alert,
    );
  }

  describe(): BarrierDescriptor {
    return { alert: this.alertWord.buffer as SharedArrayBuffer, dependents: this.dependentSabs };
  }

  /**
   * Without waiting: the highest sequence safe to read, which is below `sequence` when nothing new
   * is there yet.
   */
  tryWaitFor(sequence: number): number {
    const available = this.dependents.get();
    if (!seqGe(available, sequence)) return available;
    return this.sequencer.getHighestPublishedSequence(sequence, available);
  }

  /** Blocks (worker threads) until `sequence` is readable; throws `AlertError` or `WaitTimeoutError`. */
  waitFor(sequence: number): number {
    const ws = this.sequencer.waitStrategy;
    let deadline = 0;
    for (let it = 0; ; it++) {
      this.checkAlert();
      let hi = this.tryWaitFor(sequence);
      if (seqGe(hi, sequence)) return hi;
      if (it < ws.spinTries) continue;
      const on = this.waitWord();
      const token = ws.prepareIdle(on);
      hi = this.tryWaitFor(sequence);
      if (seqGe(hi, sequence) || this.isAlerted()) {
        ws.cancelIdle(on);
        continue;
      }
      ws.idleSync(on, token, it, this.remainingMs(ws.timeoutMs, (deadline ||= this.deadline(ws.timeoutMs))));
    }
  }

  /** As `waitFor`, but awaits instead of blocking: for the main thread, or a worker doing I/O. */
  async waitForAsync(sequence: number): Promise<number> {
    const ws = this.sequencer.waitStrategy;
    let deadline = 0;
    for (let it = 0; ; it++) {
      this.checkAlert();
      let hi = this.tryWaitFor(sequence);
      if (seqGe(hi, sequence)) return hi;
      const on = this.waitWord();
      const token = ws.prepareIdle(on);
      hi = this.tryWaitFor(sequence);
      if (seqGe(hi, sequence) || this.isAlerted()) {
        ws.cancelIdle(on);
        continue;
      }
      await ws.idleAsync(on, token, it, this.remainingMs(ws.timeoutMs, (deadline ||= this.deadline(ws.timeoutMs))));
    }
  }

  /** The position this barrier reads from: the cursor, or the slowest upstream handler. */
  getCursor(): number {
    return this.dependents.get();
  }

  /** How many events are readable beyond `sequence` right now (a queue-depth reading for metrics). */
  backlog(sequence: number): number {
    return Math.max(0, seqAdd(this.tryWaitFor(sequence), 1 - sequence));
  }

  alert(): void {
    Atomics.store(this.alertWord, 0, 1);
    // Whoever waits on this barrier sleeps on one of these words: wake them all to see the alert.
    this.sequencer.cursor.signal.wake();
    for (const d of this.dependentList) d.signal.wake();
  }

  /**
   * The word to sleep on: the cursor's for a first stage (publishes signal it), else the slowest
   * upstream stage's, since nothing becomes readable until that one moves.
   */
  private waitWord(): SignalWord {
    const deps = this.dependentList;
    if (deps.length === 0) return this.sequencer.cursor.signal;
    if (deps.length === 1) return deps[0].signal;
    return laggardSequence(deps, deps[0]).signal;
  }

  clearAlert(): void {
    Atomics.store(this.alertWord, 0, 0);
  }

  isAlerted(): boolean {
    return Atomics.load(this.alertWord, 0) !== 0;
  }

  checkAlert(): void {
    if (Atomics.load(this.alertWord, 0) !== 0) throw new AlertError();
  }

  private deadline(timeoutMs: number): number {
    return timeoutMs > 0 ? performance.now() + timeoutMs : 0;
  }

  private remainingMs(timeoutMs: number, deadline: number): number {
    if (timeoutMs <= 0) return 0;
    const left = deadline - performance.now();
    if (left <= 0) throw new WaitTimeoutError();
    return left;
  }
}
