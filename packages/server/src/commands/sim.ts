/** `ollama-ring sim`: the emulator's own CLI (`ollama-ring-sim`), run until SIGTERM/SIGINT. */
import { simPackage } from './optional-deps';
import { untilShutdown } from './signals';
import { type CliIo, type Command, EXIT_OK } from './types';

/** The emulator names itself `ollama-ring-sim`; under this CLI it is `ollama-ring sim`. */
const rename = (t: string): string => t.replace(/ollama-ring-sim\b/g, 'ollama-ring sim');

export const simCommand: Command = {
  name: 'sim',
  summary: 'run simulated Ollama nodes from a YAML pool (e.g. config/sim-pool.yaml)',
  usage: 'Usage: ollama-ring sim --config FILE [--verbose] [--time-scale N]\n(see `ollama-ring sim --help`)\n',
  async run(argv: string[], io: CliIo) {
    const result = await simPackage().runCli(argv, { out: (t) => io.out(rename(t)), err: (t) => io.err(rename(t)) });
    if (typeof result === 'number') return result;
    return untilShutdown({
      drain: async () => {
        await result.close();
        return EXIT_OK;
      },
    });
  },
};
