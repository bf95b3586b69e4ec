import { InvalidArgumentError, RecordLayout, RingBuffer } from '../src';

describe('RecordLayout', () => {
  test.each([
    [{ a: 'int32' }, 8],
    [{ a: 'int32', b: 'int32' }, 8],
    [{ a: 'int32', b: 'int32', c: 'int32' }, 16],
    [{ a: 'float64' }, 8],
    [{ a: 'int32', b: 'float64', c: 'int32' }, 16],
  ] as const)('%j is %i bytes', (schema, bytes) => {
    expect(RecordLayout.define(schema).byteSize).toBe(bytes);
  });

  test('float64 fields are 8-byte aligned whatever the declaration order', () => {
    const l = RecordLayout.define({ x: 'int32', y: 'float64', z: 'int32', w: 'float64' });
    expect(l.field('y')).toMatchObject({ type: 'float64', offset: 0 });
    expect(l.field('w')).toMatchObject({ type: 'float64', offset: 1 });
    expect(l.field('x')).toMatchObject({ type: 'int32', offset: 4 });
    expect(l.field('z')).toMatchObject({ type: 'int32', offset: 5 });
  });

  test.each([['seq'], ['at'], ['_private'], ['toJSON']])('rejects reserved name %s', (name) => {
    expect(() => RecordLayout.define({ [name]: 'int32' })).toThrow(InvalidArgumentError);
  });

  test('rejects unknown types and empty schemas', () => {
    expect(() => RecordLayout.define({ a: 'string' as never })).toThrow(InvalidArgumentError);
    expect(() => RecordLayout.define({})).toThrow(InvalidArgumentError);
  });
});

describe('EventView', () => {
  const layout = RecordLayout.define({ id: 'int32', value: 'float64', flag: 'int32' });

  test('views read and write slots in shared memory, masked by ring size', () => {
    const ring = RingBuffer.create({ layout, size: 4, producerType: 'single' });
    const v = ring.createView();
    for (let s = 0; s < 4; s++) {
      v.at(s).id = s * 10;
      v.value = s + 0.5;
      v.flag = -s;
    }
    const w = ring.createView();
    expect(w.at(2).toJSON()).toEqual({ id: 20, value: 2.5, flag: -2 });
    expect(w.at(6).id).toBe(20); // 6 & 3 === 2: same slot one lap later
    expect(w.seq).toBe(6);
  });

  test('int32 fields truncate like an Int32Array', () => {
    const ring = RingBuffer.create({ layout, size: 2 });
    const v = ring.createView().at(0);
    v.id = 2 ** 31;
    expect(v.id).toBe(-(2 ** 31));
  });

  test('two views over one ring keep their own positions', () => {
    const ring = RingBuffer.create({ layout, size: 8 });
    const a = ring.createView().at(1);
    const b = ring.createView().at(2);
    a.id = 1;
    b.id = 2;
    expect([a.id, b.id]).toEqual([1, 2]);
  });
});
