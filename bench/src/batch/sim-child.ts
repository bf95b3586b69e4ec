/**
 * The simulated embedding node of `bench:embed`, alone in its own process: one embedding model,
 * loaded from the start and never unloaded, whose calls cost `embedCallMs` each plus `embedInputMs`
 * per input (the emulator's cost model of a batched embed call), prefill made negligible.
 */
import { startSimPool } from '@ollama-ring/ollama-sim';
import { exitWithParent, failStartup } from '../proxy/child';
import type { ToChild } from '../proxy/protocol';

export const EMBED_MODEL = 'nomic-embed-text';

export interface EmbedSimOptions {
  embedCallMs: number;
  embedInputMs: number;
}

async function run(opts: EmbedSimOptions): Promise<void> {
  exitWithParent();
  const pool = await startSimPool({
    timeScale: 1,
    models: [{ name: EMBED_MODEL, loadMs: 0, capabilities: ['embedding'], promptTokensPerSec: 1e9, embedCallMs: opts.embedCallMs, embedInputMs: opts.embedInputMs }],
    // An embedding model has one slot on a node (as in Ollama); the queue holds every client.
    nodes: [{ id: 'sim', maxQueue: 4096, keepAlive: -1, models: [EMBED_MODEL], preload: [EMBED_MODEL] }],
  });
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') void pool.close().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: pool.nodes[0].url });
}

// Only when run as the child (the bench imports EMBED_MODEL from here).
if (require.main === module) run(JSON.parse(process.argv[2] ?? '{}') as EmbedSimOptions).catch(failStartup);
