const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Header words: [0] = labels written (published with a release store after the label's bytes). */
const COUNT = 0;

/**
 * Interns the strings OUTCOME records name (nodes, models, error codes) as small ids, so that the
 * records stay fixed-size, in a SharedArrayBuffer that the completion/metrics stage reads on the
 * same thread or on its own: one writer (the scheduler's thread) appends, readers look ids up.
 *
 * A label's bytes and index entry are written before the count that makes it visible, and the
 * count before the record that names it is published on the outcome ring, so a reader that meets an
 * id in a record always finds its label. Past `maxLabels`, or when the byte area is full, new
 * strings share the id of `other`: the metrics cap their label values anyway.
 */
export class LabelTable {
  readonly sab: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly index: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly ids = new Map<string, number>();
  /** Labels already decoded, by id (a reader's cache). */
  private readonly names: string[] = [];
  private used = 0;
  private readonly overflowId: number;

  private constructor(sab: SharedArrayBuffer, maxLabels: number, writer: boolean) {
    this.sab = sab;
    this.header = new Int32Array(sab, 0, 1);
    this.index = new Int32Array(sab, 4, maxLabels * 2);
    this.bytes = new Uint8Array(sab, 4 + maxLabels * 8);
    this.overflowId = writer ? this.append('other') : 0;
  }

  /** A new table (the writer's side). */
  static create(maxLabels = 4_096, byteCapacity = 256 * 1024): LabelTable {
    return new LabelTable(new SharedArrayBuffer(4 + maxLabels * 8 + byteCapacity), maxLabels, true);
  }

  /** A reader over a table made elsewhere (a worker thread's side). */
  static attach(sab: SharedArrayBuffer, maxLabels = 4_096): LabelTable {
    return new LabelTable(sab, maxLabels, false);
  }

  /** The id of `name` (-1 for an empty one). Writer only. */
  id(name: string | undefined): number {
    if (!name) return -1;
    return this.ids.get(name) ?? this.append(name);
  }

  /** The string an id stands for ('' for -1). */
  name(id: number): string {
    if (id < 0) return '';
    const known = this.names[id];
    if (known !== undefined) return known;
    const count = Atomics.load(this.header, COUNT);
    for (let i = this.names.length; i < count; i++) {
      const off = this.index[2 * i];
      this.names.push(decoder.decode(this.bytes.subarray(off, off + this.index[2 * i + 1])));
    }
    return this.names[id] ?? '';
  }

  private append(name: string): number {
    const id = Atomics.load(this.header, COUNT);
    const encoded = encoder.encode(name);
    if (2 * id >= this.index.length || this.used + encoded.length > this.bytes.length) return this.overflowId;
    this.bytes.set(encoded, this.used);
    this.index[2 * id] = this.used;
    this.index[2 * id + 1] = encoded.length;
    this.used += encoded.length;
    this.ids.set(name, id);
    this.names.push(name);
    Atomics.store(this.header, COUNT, id + 1);
    return id;
  }
}
