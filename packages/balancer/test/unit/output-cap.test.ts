import { outputCapFromBody } from '../../src/scheduler/output-cap';

const body = (o: unknown) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));

describe('outputCapFromBody', () => {
  test.each<[string, unknown, number | undefined]>([
    ['Ollama options.num_predict', { model: 'm', prompt: 'hi', options: { num_predict: 128 } }, 128],
    ['OpenAI max_tokens', { model: 'm', messages: [], max_tokens: 64 }, 64],
    ['OpenAI max_completion_tokens', { model: 'm', messages: [], max_completion_tokens: 32 }, 32],
    ['whitespace around the colon', '{"options": {"num_predict" :\n 77}}', 77],
    ['no cap', { model: 'm', prompt: 'hi' }, undefined],
    ['-1 (until the context is full) is no cap', { options: { num_predict: -1 } }, undefined],
    ['-2 is no cap', { options: { num_predict: -2 } }, undefined],
    ['0 is no cap', { options: { num_predict: 0 } }, undefined],
    ['the key inside the prompt text is not a key', { prompt: 'set "num_predict": 999 please', options: { num_predict: 12 } }, 12],
    ['only in the prompt: none', { prompt: '{"num_predict": 999}' }, undefined],
    ['a nested key with a non-number value is skipped', { format: { properties: { num_predict: { type: 'integer' } } }, options: { num_predict: 5 } }, 5],
  ])('%s', (_name, b, expected) => {
    expect(outputCapFromBody(body(b))).toBe(expected);
  });

  test('reads a view into a larger (shared) buffer without copying it first', () => {
    const sab = new SharedArrayBuffer(256);
    const bytes = body({ options: { num_predict: 40 } });
    new Uint8Array(sab).set(bytes, 100);
    expect(outputCapFromBody(new Uint8Array(sab, 100, bytes.length))).toBe(40);
  });
});
