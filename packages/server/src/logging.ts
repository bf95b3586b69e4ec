/**
 * Structured logs: JSON lines from pino, one logger per process and a child per component
 * (`{"component":"gateway",…}`), so a log shipper can filter without parsing messages.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Every level pino knows, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default stdout, written synchronously so nothing is lost on `process.exit`. */
  destination?: DestinationStream;
  /** Fields on every line (e.g. `{ app: 'ollama-ring' }`). */
  base?: Record<string, unknown>;
}

/**
 * The process logger: plain JSON (no pretty-printing transport, so no worker thread and no extra
 * dependency), ISO timestamps, level names instead of numbers (easier to grep and to read in a
 * log viewer), and the error serializer on `err`.
 *
 * @example
 * const log = createLogger({ level: 'debug' });
 * componentLogger(log, 'gateway').info({ port: 8080 }, 'listening');
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A child logger whose lines carry `component`. */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}

/** A logger that writes nothing (tests, the demo's in-process gateway). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
