/**
 * `ollama-ring-sim --config sim.yaml [--verbose] [--time-scale N]`: starts a pool of simulated Ollama
 * nodes and runs until SIGINT or SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSimConfig } from './config';
import { SimError } from './errors';
import { startSimPool, type SimPool } from './pool';

const USAGE = `Usage: ollama-ring-sim --config FILE [--verbose] [--time-scale N]

Starts simulated Ollama servers, as listed in FILE (YAML), in this process.

Options:
  --config FILE     the pool configuration (see config/sim-pool.yaml)
  --verbose         log one line per request
  --time-scale N    override timeScale (0.01 makes one simulated second take 10 ms)
  --help            show this help
  --version         show the version
`;

function version(): string {
  // Read at run time: the package.json sits outside the compiled rootDir.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/**
 * Runs the CLI. Returns the exit code for --help, --version and errors; for a started pool, returns
 * the pool (the caller decides when to close it).
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number | SimPool> {
  let config: string | undefined;
  let verbose = false;
  let timeScale: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    }
    if (a === '--version' || a === '-v') {
      io.out(`${version()}\n`);
      return 0;
    }
    if (a === '--verbose') verbose = true;
    else if (a === '--config' || a === '-c') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a === '--time-scale') timeScale = Number(argv[++i]);
    else if (a.startsWith('--time-scale=')) timeScale = Number(a.slice('--time-scale='.length));
    else {
      io.err(`unknown argument '${a}'\n\n${USAGE}`);
      return 2;
    }
  }
  if (!config) {
    io.err(`--config is required\n\n${USAGE}`);
    return 2;
  }
  if (timeScale !== undefined && !(timeScale > 0)) {
    io.err('--time-scale must be a positive number\n');
    return 2;
  }
  try {
    const cfg = loadSimConfig(config);
    if (verbose) cfg.verbose = true;
    if (timeScale !== undefined) cfg.timeScale = timeScale;
    const pool = await startSimPool(cfg, { log: (line) => io.out(`${line}\n`) });
    for (const n of pool.nodes) {
      io.out(`${n.id.padEnd(12)} ${n.url}  models: ${n.state().models.join(', ')}\n`);
    }
    io.out(`${pool.nodes.length} simulated Ollama node(s) running (timeScale ${cfg.timeScale ?? 1}); Ctrl-C to stop\n`);
    return pool;
  } catch (e) {
    io.err(`${e instanceof SimError ? e.message : String(e)}\n`);
    return 1;
  }
}

/** The process entry: exits on errors, closes the pool on SIGINT/SIGTERM. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const result = await runCli(argv);
  if (typeof result === 'number') {
    process.exitCode = result;
    return;
  }
  const stop = (): void => {
    void result.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Run when executed directly or through the committed bin shim, never when imported by tests.
if (require.main === module || /ollama-ring-sim(\.js)?$/.test(require.main?.filename ?? '')) {
  void main();
}
