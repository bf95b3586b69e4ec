test('smoke', () => { expect(new SharedArrayBuffer(8).byteLength).toBe(8); });
