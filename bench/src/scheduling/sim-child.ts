/**
 * The simulated pool, alone in its own process: its token ticker then does not share an event loop
 * with the balancer and the trace driver, as real Ollama servers would not. Started by run.ts with
 * fork(); talks over the IPC channel.
 */
import { startSimPool } from '@ollama-ring/ollama-sim';
import type { ChildMessage, ParentMessage, SimChildOptions } from './protocol';

function send(m: ChildMessage): void {
  process.send?.(m);
}

async function run(opts: SimChildOptions): Promise<void> {
  const pool = await startSimPool(opts.config);
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'state') {
      send({ type: 'state', nodes: pool.state() });
      return;
    }
    void pool.close().then(() => process.exit(0));
  });
  // The parent going away (a crash, a killed test) must not leave the pool running.
  process.on('disconnect', () => void pool.close().then(() => process.exit(0)));
  send({ type: 'ready', nodes: pool.nodes.map((n) => ({ id: n.id, url: n.url })) });
}

void run(JSON.parse(process.argv[2] ?? '{}') as SimChildOptions).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
