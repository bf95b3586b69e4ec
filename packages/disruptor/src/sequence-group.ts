import { type SequenceReader, Sequence, seqLt } from './sequence';

/**
 * The wrap-safe minimum of several sequences, or `fallback` when there are none. Used for gating:
 * a producer may not pass the slowest of the handlers it gates on.
 */
export function minimumSequence(sequences: readonly SequenceReader[], fallback: number): number {
  let min = fallback;
  for (let i = 0; i < sequences.length; i++) {
    const v = sequences[i].get();
    if (seqLt(v, min)) min = v;
  }
  return min;
}

/**
 * Several sequences read as one: `get()` is their minimum. A barrier that depends on two upstream
 * handlers (a diamond) waits on the group of both.
 *
 * @example
 * const both = new SequenceGroup([a.sequence, b.sequence]);
 * both.get(); // the slower of a and b
 */
export class SequenceGroup implements SequenceReader {
  private members: Sequence[];

  constructor(members: readonly Sequence[] = []) {
    this.members = [...members];
  }

  /** The minimum of the members. An empty group has no position; reading it is a caller error. */
  get(): number {
    const m = this.members;
    if (m.length === 0) throw new RangeError('SequenceGroup is empty');
    let min = m[0].get();
    for (let i = 1; i < m.length; i++) {
      const v = m[i].get();
      if (seqLt(v, min)) min = v;
    }
    return min;
  }

  add(sequence: Sequence): void {
    this.members = [...this.members, sequence];
  }

  remove(sequence: Sequence): boolean {
    const next = this.members.filter((s) => s !== sequence);
    const removed = next.length !== this.members.length;
    this.members = next;
    return removed;
  }

  size(): number {
    return this.members.length;
  }

  toArray(): readonly Sequence[] {
    return this.members;
  }
}

/**
 * The sequence furthest behind among `sequences` (wrap-safe), or `fallback` when none is behind
 * it: what a waiter sleeps on, since nothing can pass until that one moves.
 */
export function laggardSequence(sequences: readonly Sequence[], fallback: Sequence): Sequence {
  let lag = fallback;
  let min = fallback.get();
  for (let i = 0; i < sequences.length; i++) {
    const v = sequences[i].get();
    if (seqLt(v, min)) {
      min = v;
      lag = sequences[i];
    }
  }
  return lag;
}
