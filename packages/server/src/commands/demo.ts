/**
 * `ollama-ring demo`: no Ollama needed. Starts the simulated pool of config/sim-pool.yaml, the
 * balancer and gateway in front of it, drives a mixed workload through the gateway with the
 * official `ollama` client while showing a live per-node view, prints a summary, and shuts down.
 */
import { startDemo } from '../demo/run';
import { COMMON_OPTIONS, intFlag, parseCommandArgs, positiveFlag } from './args';
import { MissingDependencyError, ollamaPackage, simPackage } from './optional-deps';
import { type Command, EXIT_OK, EXIT_USAGE } from './types';
import { packageVersion } from './version';

const USAGE = `Usage: ollama-ring demo [--duration S] [--no-color] [options]

Runs the balancer against a simulated pool (no Ollama needed): three heterogeneous nodes and five
models from config/sim-pool.yaml, a gateway in front of them, and ~30 s of mixed traffic sent
through the gateway with the official ollama client: skewed model popularity, streaming and not,
a few requests with a larger num_ctx (which forces a model reload), and a burst in the middle.
Shows a live per-node view, then a summary table. Ctrl-C ends the run early (summary included).

Options:
      --duration S     seconds of traffic (default 30)
      --no-color       no ANSI colours (also: NO_COLOR set, or stdout not a terminal)
      --users N        concurrent users in the steady state (default 6)
      --burst N        requests fired at once mid-run (default 24)
      --time-scale X   simulated time factor (default 0.3: model loads take ~0.1-2 s)
      --pool FILE      another simulated pool (ports are always replaced by free ones)
      --seed N         seed of the request mix (default 1)
  -h, --help           show this help
  -V, --version        print the version
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  duration: { type: 'string' },
  'no-color': { type: 'boolean' },
  users: { type: 'string' },
  burst: { type: 'string' },
  'time-scale': { type: 'string' },
  pool: { type: 'string' },
  seed: { type: 'string' },
} as const;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'simulated pool + gateway + live workload for ~30 s; no Ollama needed',
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, OPTIONS, 0);
    if (values.help) return (io.out(USAGE), EXIT_OK);
    if (values.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
    // Before anything starts: the emulator and the client are optional dependencies (optional-deps.ts).
    simPackage();
    ollamaPackage();
    return startDemo(
      {
        durationMs: (positiveFlag(values.duration, '--duration') ?? 30) * 1000,
        users: intFlag(values.users, '--users', 1, 200) ?? 6,
        burst: intFlag(values.burst, '--burst', 0, 1000) ?? 24,
        timeScale: positiveFlag(values['time-scale'], '--time-scale') ?? 0.3,
        pool: values.pool,
        seed: intFlag(values.seed, '--seed', 0, 2 ** 31 - 1) ?? 1,
        color: values['no-color'] !== true && io.isTTY && !io.env.NO_COLOR,
      },
      io,
    ).catch((e: unknown) => {
      // A bad --pool file is the caller's mistake: its message, not a stack trace.
      if (!(e instanceof MissingDependencyError) && e instanceof simPackage().SimConfigError) return (io.err(`ollama-ring demo: ${e.message}\n`), EXIT_USAGE);
      throw e;
    });
  },
};
