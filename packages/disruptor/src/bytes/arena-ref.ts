import type { ByteArena } from './byte-arena';

/** The offset an `ArenaRef` stores when a record carries no payload. */
export const NO_PAYLOAD = -1;

/**
 * Where a payload lives, stored in two int32 fields of a ring record: the arena offset and the
 * byte length. Build one per field pair at start-up; its methods allocate nothing, so they are
 * safe on the hot path. Works with any object whose named fields are numbers, which includes the
 * ring's `EventView`s.
 *
 * @example
 * const layout = RecordLayout.define({ requestId: 'int32', bodyOffset: 'int32', bodyLength: 'int32' });
 * const body = new ArenaRef('bodyOffset', 'bodyLength');
 * body.set(event, arena.tryAllocCopy(bytes), bytes.length);   // front, before publish
 * const json = decoder.decode(body.view(arena, event));        // validation stage
 * body.free(arena, event);                                     // when the payload is done with
 */
export class ArenaRef<K extends string> {
  readonly offsetField: K;
  readonly lengthField: K;

  constructor(offsetField: K, lengthField: K) {
    this.offsetField = offsetField;
    this.lengthField = lengthField;
  }

  /** Stores an allocation's offset and length into the record. */
  set(record: Record<K, number>, offset: number, length: number): void {
    record[this.offsetField] = offset;
    record[this.lengthField] = length;
  }

  /** Marks the record as carrying no payload. */
  clear(record: Record<K, number>): void {
    record[this.offsetField] = NO_PAYLOAD;
    record[this.lengthField] = 0;
  }

  /** Whether the record points at a payload. */
  has(record: Record<K, number>): boolean {
    return record[this.offsetField] !== NO_PAYLOAD;
  }

  offset(record: Record<K, number>): number {
    return record[this.offsetField];
  }

  length(record: Record<K, number>): number {
    return record[this.lengthField];
  }

  /** A no-copy view of the payload the record points at. */
  view(arena: ByteArena, record: Record<K, number>): Uint8Array {
    return arena.view(record[this.offsetField], record[this.lengthField]);
  }

  /** Frees the payload (if any) and clears the record, so a second call is harmless. */
  free(arena: ByteArena, record: Record<K, number>): void {
    const offset = record[this.offsetField];
    if (offset === NO_PAYLOAD) return;
    this.clear(record);
    arena.free(offset);
  }
}
