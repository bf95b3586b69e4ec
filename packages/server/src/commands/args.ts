/** Flag parsing on `node:util` parseArgs, with every mistake turned into a `UsageError`. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './types';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** `--help`/`-h` and `--version`/`-V`, accepted by every command. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies Options;

/**
 * Parses `argv` strictly: unknown flags, missing values and extra positionals are usage errors.
 *
 * @example const { values, positionals } = parseCommandArgs(argv, { port: { type: 'string' } }, 0);
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, maxPositionals: number): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs' messages are good ("Unknown option '--x'"), but mention `--` tips meant for scripts.
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return parsed;
}

/**
 * An integer flag within bounds, or undefined when absent.
 *
 * @example intFlag(values.port, '--port', 0, 65535); // 8080
 */
export function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** A positive number flag (durations in seconds may be fractional), or undefined when absent. */
export function positiveFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got '${value}'`);
  return n;
}
