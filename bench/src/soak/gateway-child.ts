/**
 * The soak's gateway, alone in its process so that its memory is its own: started from the config
 * file named in argv[2] (re-read on every reload), it answers the driver's `memory` messages with
 * its RSS and heap after a full GC (the process runs with --expose-gc).
 */
import { PipelineFactory } from '@ollama-ring/balancer';
import { Gateway, allRoutes } from '@ollama-ring/server';
import { readConfig, type FromGateway, type ToGateway } from './gateway';

function reply(m: FromGateway): void {
  process.send?.(m);
}

async function run(configFile: string): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const factory = await PipelineFactory.fromConfig(readConfig(configFile)).start();
  const gateway = new Gateway({ factory, routes: allRoutes, loadConfig: () => readConfig(configFile) });
  const addr = await gateway.listen(0, '127.0.0.1');
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: ToGateway) => {
    if (m.type === 'stop') void gateway.close(5_000).then(() => process.exit(0));
    if (m.type === 'memory') {
      // Twice: the first GC may only finish sweeping what the one before it marked.
      gc?.();
      gc?.();
      const u = process.memoryUsage();
      reply({ type: 'memory', id: m.id, rss: u.rss, heapUsed: u.heapUsed });
    }
  });
  reply({ type: 'ready', url: `http://127.0.0.1:${addr.port}` });
}

run(process.argv[2] ?? '').catch((e: unknown) => {
  const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  if (process.send) process.send({ type: 'failed', error } satisfies FromGateway, () => process.exit(1));
  else process.exit(1);
});
