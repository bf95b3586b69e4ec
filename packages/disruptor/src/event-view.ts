import type { RecordFields, RecordLayout, RecordSchema } from './record-layout';

/**
 * A reusable window onto one ring slot. Its properties read and write the slot's fields in the
 * shared buffer directly; moving it to another slot (`at(seq)`) allocates nothing.
 */
export type EventView<S extends RecordSchema> = RecordFields<S> & {
  /** The sequence the view currently points at. */
  readonly seq: number;
  /** Points the view at the slot of `sequence` and returns it. */
  at(sequence: number): EventView<S>;
  /** Copies the fields into a plain object (for logs and tests; allocates). */
  toJSON(): RecordFields<S>;
};

interface ViewInternals {
  _i32: Int32Array;
  _f64: Float64Array;
  _b32: number;
  _b64: number;
  seq: number;
}

type ViewConstructor = new (i32: Int32Array, f64: Float64Array) => ViewInternals;

const classes = new WeakMap<RecordLayout, { ctor: ViewConstructor; mask: number }[]>();

/**
 * Builds (once per layout and ring size) a class whose prototype has one accessor per field, so
 * V8 sees a stable shape and inlines the accessors; then returns a new view over `i32`/`f64`.
 */
export function createEventView<S extends RecordSchema>(layout: RecordLayout<S>, i32: Int32Array, f64: Float64Array, mask: number): EventView<S> {
  let list = classes.get(layout);
  if (!list) {
    list = [];
    classes.set(layout, list);
  }
  let entry = list.find((e) => e.mask === mask);
  if (!entry) {
    entry = { ctor: buildClass(layout, mask), mask };
    list.push(entry);
  }
  return new entry.ctor(i32, f64) as unknown as EventView<S>;
}

function buildClass(layout: RecordLayout, mask: number): ViewConstructor {
  const w32 = layout.int32Words;
  const w64 = layout.float64Words;
  class View implements ViewInternals {
    _i32: Int32Array;
    _f64: Float64Array;
    _b32 = 0;
    _b64 = 0;
    seq = 0;
    constructor(i32: Int32Array, f64: Float64Array) {
      this._i32 = i32;
      this._f64 = f64;
    }
    at(sequence: number): this {
      const slot = sequence & mask;
      this.seq = sequence;
      this._b32 = slot * w32;
      this._b64 = slot * w64;
      return this;
    }
    toJSON(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const f of layout.fields) out[f.name] = (this as unknown as Record<string, number>)[f.name];
      return out;
    }
  }
  for (const f of layout.fields) {
    const off = f.offset;
    const desc: PropertyDescriptor =
      f.type === 'int32'
        ? {
            get(this: View) {
              return this._i32[this._b32 + off];
            },
            set(this: View, v: number) {
              this._i32[this._b32 + off] = v;
            },
          }
        : {
            get(this: View) {
              return this._f64[this._b64 + off];
            },
            set(this: View, v: number) {
              this._f64[this._b64 + off] = v;
            },
          };
    Object.defineProperty(View.prototype, f.name, { ...desc, enumerable: true, configurable: false });
  }
  return View;
}
