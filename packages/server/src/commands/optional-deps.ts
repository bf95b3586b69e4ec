/**
 * The emulator (`@ollama-ring/ollama-sim`) and the official `ollama` client are optional
 * dependencies of the server: `serve`, `status` and `check-config` never load them; `demo` and
 * `sim` load them here, on first use, and say what is missing when they are absent.
 */
type SimPackage = typeof import('@ollama-ring/ollama-sim');
type OllamaPackage = typeof import('ollama');

/** An optional dependency a command needs is not installed; the CLI prints the message only. */
export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
}

/** `@ollama-ring/ollama-sim`, for `demo` and `sim`. */
export const simPackage = (): SimPackage => requireOptional<SimPackage>('@ollama-ring/ollama-sim', '`ollama-ring demo` and `ollama-ring sim`');

/** The `ollama` client, with which the demo drives its workload. */
export const ollamaPackage = (): OllamaPackage => requireOptional<OllamaPackage>('ollama', '`ollama-ring demo`');

/**
 * `require(name)`, or a MissingDependencyError when `name` itself (not one of its imports) is absent;
 * `usedBy` names the commands that need it.
 */
export function requireOptional<T>(name: string, usedBy: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded at first use, so that `serve` runs without it
    return require(name) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(`'${name}'`)) {
      throw new MissingDependencyError(
        `${name} is not installed. It is an optional dependency of @ollama-ring/server, needed by ${usedBy} ` +
          `only: install the server with its optional dependencies (not --omit=optional), or add ${name} next to it.`,
        { cause: e },
      );
    }
    throw e;
  }
}
