import { InvalidArgumentError } from './errors';

/** The field types a ring record may hold. Plain JS objects never live in slots. */
export type FieldType = 'int32' | 'float64';

/** A record schema: field name to type, in declaration order. */
export type RecordSchema = Readonly<Record<string, FieldType>>;

/** The fields of a schema as typed properties of an event. */
export type RecordFields<S extends RecordSchema> = { -readonly [K in keyof S]: number };

/** Where one field lives inside a record, in units of its own type's array. */
export interface FieldSlot {
  readonly name: string;
  readonly type: FieldType;
  /** Word offset inside the record: int32 words for int32 fields, float64 words for float64 ones. */
  readonly offset: number;
}

/**
 * A fixed record layout, declared once. Float64 fields come first, so they are 8-byte aligned
 * without padding between int32s; the record size is a multiple of 8 bytes.
 *
 * @example
 * const layout = RecordLayout.define({ requestId: 'int32', route: 'int32', arrivedAt: 'float64' });
 * layout.byteSize; // 16
 */
export class RecordLayout<S extends RecordSchema = RecordSchema> {
  readonly schema: S;
  readonly fields: readonly FieldSlot[];
  /** Size of one record in bytes (a multiple of 8). */
  readonly byteSize: number;
  /** Size of one record in int32 words. */
  readonly int32Words: number;
  /** Size of one record in float64 words. */
  readonly float64Words: number;

  private constructor(schema: S) {
    const names = Object.keys(schema);
    if (names.length === 0) throw new InvalidArgumentError('a record layout needs at least one field');
    const reserved = new Set(['seq', 'at', 'constructor', '__proto__', 'prototype', 'toJSON']);
    const fields: FieldSlot[] = [];
    let byte = 0;
    for (const name of names) {
      if (reserved.has(name) || name.startsWith('_')) {
        throw new InvalidArgumentError(`field name '${name}' is reserved`);
      }
      if (schema[name] !== 'float64' && schema[name] !== 'int32') {
        throw new InvalidArgumentError(`field '${name}' has unknown type '${String(schema[name])}'`);
      }
    }
    for (const name of names.filter((n) => schema[n] === 'float64')) {
      fields.push({ name, type: 'float64', offset: byte / 8 });
      byte += 8;
    }
    for (const name of names.filter((n) => schema[n] === 'int32')) {
      fields.push({ name, type: 'int32', offset: byte / 4 });
      byte += 4;
    }
    this.schema = schema;
    this.fields = fields;
    this.byteSize = Math.ceil(byte / 8) * 8;
    this.int32Words = this.byteSize / 4;
    this.float64Words = this.byteSize / 8;
  }

  /** Declares a layout. The schema is plain data, so it can be posted to a worker and redeclared there. */
  static define<S extends RecordSchema>(schema: S): RecordLayout<S> {
    return new RecordLayout(schema);
  }

  /** Looks a field up by name, or throws if the layout has no such field. */
  field(name: keyof S & string): FieldSlot {
    const f = this.fields.find((x) => x.name === name);
    if (!f) throw new InvalidArgumentError(`no field '${name}' in layout`);
    return f;
  }
}
