/**
 * The simulated Ollama node, alone in its own process. Two models, both loaded from the start
 * and never unloaded: one answers at once (the non-streaming run measures the proxy, not the
 * model), the other paces its tokens so every NDJSON line is a separate write.
 */
import { startSimPool } from '@ollama-ring/ollama-sim';
import { exitWithParent, failStartup, serveLoopDelay } from './child';
import type { SimChildOptions, ToChild } from './protocol';
import { FAST_MODEL, STREAM_MODEL } from './settings';

async function run(opts: SimChildOptions): Promise<void> {
  exitWithParent();
  serveLoopDelay();
  const answer = { min: opts.tokens, max: opts.tokens };
  // Prompt evaluation is made instant for both: the only delay left is the stream's token pace.
  const instant = 1e9;
  const pool = await startSimPool({
    timeScale: 1,
    models: [
      { name: FAST_MODEL, loadMs: 0, tokensPerSec: instant, promptTokensPerSec: instant, responseTokens: answer },
      { name: STREAM_MODEL, loadMs: 0, tokensPerSec: opts.streamTokensPerSec, promptTokensPerSec: instant, responseTokens: answer },
    ],
    nodes: [
      {
        id: 'sim',
        numParallel: opts.numParallel,
        maxQueue: opts.numParallel,
        maxLoadedModels: 2,
        keepAlive: -1,
        models: [FAST_MODEL, STREAM_MODEL],
        preload: [FAST_MODEL, STREAM_MODEL],
      },
    ],
  });
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') void pool.close().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: pool.nodes[0].url });
}

run(JSON.parse(process.argv[2] ?? '{}') as SimChildOptions).catch(failStartup);
