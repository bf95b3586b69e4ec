import { AlertError, InsufficientCapacityError, BrandedError, DisruptorError, IllegalStateError } from '../src/errors';

describe('typed errors', () => {
  test.each([
    [new InsufficientCapacityError(), 'ERR_INSUFFICIENT_CAPACITY', InsufficientCapacityError],
    [new AlertError(), 'ERR_ALERTED', AlertError],
  ])('%p has a stable code and brand', (err, code, cls) => {
    expect(err.code).toBe(code);
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(DisruptorError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(cls.name);
  });

  test('a different subclass is not matched', () => {
    expect(new AlertError()).not.toBeInstanceOf(InsufficientCapacityError);
  });

  test('instanceof works across copies of the class (brand, not identity)', () => {
    // Simulate a second copy of the package: a distinct class object with the same brand.
    const copy = jest.requireActual<typeof import('../src/errors')>('../src/errors');
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy of the module, inside isolateModules
      const other = require('../src/errors') as typeof import('../src/errors');
      expect(other.InsufficientCapacityError).not.toBe(copy.InsufficientCapacityError);
      expect(new other.InsufficientCapacityError()).toBeInstanceOf(copy.InsufficientCapacityError);
      expect(new copy.AlertError()).not.toBeInstanceOf(other.InsufficientCapacityError);
    });
  });
});

describe('error families', () => {
  test('engine errors are DisruptorErrors and BrandedErrors', () => {
    const err = new IllegalStateError('x');
    expect(err).toBeInstanceOf(DisruptorError);
    expect(err).toBeInstanceOf(BrandedError);
    expect(err.code).toBe('ERR_ILLEGAL_STATE');
  });

  test('another family on BrandedError is not a DisruptorError', () => {
    class OtherError extends BrandedError {
      static override brand = 'ERR_OTHER';
    }
    const err = new OtherError('ERR_OTHER', 'other');
    expect(err).toBeInstanceOf(BrandedError);
    expect(err).not.toBeInstanceOf(DisruptorError);
  });
});
