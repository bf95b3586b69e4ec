/**
 * The soak's gateway, alone in its process so that its memory is its own: started from the config
 * file named in argv[2] (re-read on every reload), it answers the driver's `memory` messages with
 * its RSS and heap after a full GC (the process runs with --expose-gc).
 */
import { readFileSync } from 'node:fs';
import { PipelineFactory, type BalancerConfig } from '@ollama-ring/balancer';
import { Gateway, allRoutes } from '@ollama-ring/server';
import { readConfig, type FromGateway, type ToGateway } from './gateway';

/**
 * The byte arena's reserved size, as PipelineFactory sizes it (pipeline-factory.ts, arenaCapacity):
 * room for four of the largest bodies, at least 64 MiB, at most 1 GiB.
 */
function arenaCapacity(c: BalancerConfig): number {
  return Math.min(2 ** 30, Math.max(64 * 2 ** 20, c.validation.maxBodyBytes * 4));
}

/**
 * Resident bytes of the byte arena's SharedArrayBuffer: the anonymous read-write mapping of about
 * its reserved size in /proc/self/smaps (Linux; 0 elsewhere). Its pages become resident as the
 * arena's allocator first writes them, and stay so: part of RSS that is not the heap.
 */
function arenaResident(capacity: number): number {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return 0;
  }
  let resident = 0;
  for (const block of text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) rw-p [0-9a-f]+ \S+ 0\s*$/.exec(block.slice(0, block.indexOf('\n')));
    if (!head) continue;
    const size = parseInt(head[2], 16) - parseInt(head[1], 16);
    const rss = /\nRss:\s+(\d+) kB/.exec(block);
    if (rss && size >= capacity && size <= capacity + 16 * 2 ** 20) resident = Math.max(resident, Number(rss[1]) * 1024);
  }
  return resident;
}

function reply(m: FromGateway): void {
  process.send?.(m);
}

async function run(configFile: string): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const config = readConfig(configFile);
  const capacity = arenaCapacity(config);
  const factory = await PipelineFactory.fromConfig(config).start();
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
      reply({
        type: 'memory',
        id: m.id,
        rss: u.rss,
        heapUsed: u.heapUsed,
        heapTotal: u.heapTotal,
        external: u.external,
        arrayBuffers: u.arrayBuffers,
        arenaResident: arenaResident(capacity),
      });
    }
  });
  reply({ type: 'ready', url: `http://127.0.0.1:${addr.port}` });
}

run(process.argv[2] ?? '').catch((e: unknown) => {
  const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  if (process.send) process.send({ type: 'failed', error } satisfies FromGateway, () => process.exit(1));
  else process.exit(1);
});
