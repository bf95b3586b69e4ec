/** What every subcommand is made of, and the I/O it writes to (a seam for in-process tests). */
import { OllamaRingError } from '@ollama-ring/protocol';

/** Where a command writes, and what it may know about the terminal. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (the demo redraws in place only then). */
  readonly isTTY: boolean;
  /** stderr is a terminal (`batch run` redraws its progress there only then); when absent, `isTTY`. */
  readonly errIsTTY?: boolean;
  /** Terminal width in columns, when known. */
  readonly columns?: number;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The real process's I/O. */
export function processIo(): CliIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    errIsTTY: process.stderr.isTTY === true,
    columns: process.stdout.columns,
    env: process.env,
  };
}

/** Exit codes: 0 ok, 1 a runtime failure, 2 a usage error (bad flag, bad config). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A mistake in how the command was called; the CLI prints it with a pointer to `--help`, exit 2. */
export class UsageError extends OllamaRingError {
  static override brand = 'ERR_USAGE';
  constructor(message: string) {
    super(UsageError.brand, message);
  }
}

export interface Command {
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** The command's full `--help` text. */
  usage: string;
  /** Runs to completion (a server runs until signalled); resolves with the exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}
