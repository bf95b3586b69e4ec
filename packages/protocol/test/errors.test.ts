import { BrandedError, DisruptorError } from '@ollama-ring/disruptor';
import { OllamaRingError } from '@ollama-ring/protocol';

class QuotaError extends OllamaRingError {
  static override brand = 'ERR_QUOTA';
  constructor() {
    super(QuotaError.brand, 'over quota');
  }
}

describe('OllamaRingError', () => {
  test('a product error has its code, its name, and both bases', () => {
    const e = new QuotaError();
    expect(e.code).toBe('ERR_QUOTA');
    expect(e.name).toBe('QuotaError');
    expect(e).toBeInstanceOf(QuotaError);
    expect(e).toBeInstanceOf(OllamaRingError);
    expect(e).toBeInstanceOf(BrandedError);
    expect(e).toBeInstanceOf(Error);
  });

  test("the product's and the engine's families are apart", () => {
    expect(new QuotaError()).not.toBeInstanceOf(DisruptorError);
    expect(new DisruptorError('ERR_DISRUPTOR', 'x')).not.toBeInstanceOf(OllamaRingError);
  });

  test('instanceof works across copies of the package (brand, not identity)', () => {
    jest.isolateModules(() => {
      // A second copy of the module, as another package's copy would be: only require gives one here.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const other = require('../src/errors') as typeof import('../src/errors');
      expect(other.OllamaRingError).not.toBe(OllamaRingError);
      expect(new QuotaError()).toBeInstanceOf(other.OllamaRingError);
    });
  });
});
