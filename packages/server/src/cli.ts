/**
 * The `ollama-ring` command line: `serve`, `demo`, `sim`, `check-config`, `status`, `batch`, `workflow`, with `--help`
 * and `--version` everywhere. Exit status: 0 ok, 1 a runtime failure, 2 a usage or config error.
 */
import { batchCommand } from './commands/batch';
import { checkConfigCommand } from './commands/check-config';
import { demoCommand } from './commands/demo';
import { MissingDependencyError } from './commands/optional-deps';
import { serveCommand } from './commands/serve';
import { simCommand } from './commands/sim';
import { statusCommand } from './commands/status';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo, UsageError } from './commands/types';
import { packageVersion } from './commands/version';
import { workflowCommand } from './commands/workflow';

export const COMMANDS: readonly Command[] = [serveCommand, demoCommand, simCommand, checkConfigCommand, statusCommand, batchCommand, workflowCommand];

function topUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: ollama-ring <command> [options]

A load balancer for pools of Ollama servers: an Ollama- and OpenAI-compatible gateway.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show this help (after a command: that command's help)
  -V, --version  print the version

Try it without Ollama: ollama-ring demo
`;
}

/**
 * Runs one command line (without `node` and the script) and resolves with the exit status. Long
 * runners (`serve`, `sim`) resolve once they have shut down.
 *
 * @example process.exitCode = await runCli(['check-config', 'config.yaml']);
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(`ollama-ring: no command given\n\n${topUsage()}`);
    return EXIT_USAGE;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const sub = COMMANDS.find((c) => c.name === rest[0]);
    if (sub) return runCommand(sub, ['--help'], io);
    io.out(topUsage());
    return EXIT_OK;
  }
  if (first === '--version' || first === '-V') {
    io.out(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) {
    const what = first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`;
    io.err(`ollama-ring: ${what}\n\n${topUsage()}`);
    return EXIT_USAGE;
  }
  return runCommand(cmd, rest, io);
}

async function runCommand(cmd: Command, argv: string[], io: CliIo): Promise<number> {
  try {
    return await cmd.run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ollama-ring ${cmd.name}: ${e.message}\nRun 'ollama-ring ${cmd.name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    if (e instanceof MissingDependencyError) {
      io.err(`ollama-ring ${cmd.name}: ${e.message}\n`);
      return EXIT_FAILURE;
    }
    io.err(`ollama-ring ${cmd.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_FAILURE;
  }
}

/** The process entry: runs the command line, then exits with its status. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const code = await runCli(argv);
  // Exit explicitly: a command that finished may still have idle sockets or timers in libraries
  // it used, and its status is decided. stdout/stderr are flushed first when they are pipes.
  await flush();
  process.exit(code);
}

function flush(): Promise<void> {
  const drain = (s: NodeJS.WriteStream) => new Promise<void>((r) => (s.writableNeedDrain ? s.once('drain', () => r()) : r()));
  return Promise.all([drain(process.stdout), drain(process.stderr)]).then(() => undefined);
}

// Run when executed directly or through the bin shim, never when imported (tests import runCli).
if (require.main === module || /[\\/]bin[\\/]ollama-ring(\.js)?$/.test(require.main?.filename ?? '')) {
  void main();
}
