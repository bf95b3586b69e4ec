import { MissingDependencyError, ollamaPackage, requireOptional, simPackage } from '../src/commands/optional-deps';

describe('optional dependencies of demo and sim', () => {
  test('are loaded on first use', () => {
    expect(typeof simPackage().startSimPool).toBe('function');
    expect(typeof ollamaPackage().Ollama).toBe('function');
  });

  test('an absent one is a MissingDependencyError naming it and the commands that need it', () => {
    expect(() => requireOptional('@ollama-ring/not-installed', '`ollama-ring demo`')).toThrow(MissingDependencyError);
    expect(() => requireOptional('@ollama-ring/not-installed', '`ollama-ring demo`')).toThrow(/@ollama-ring\/not-installed is not installed.*ollama-ring demo/);
  });
});
