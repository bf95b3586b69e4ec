/**
 * ollama-ring under test, alone in its own process: the real Gateway over a PipelineFactory,
 * configured so that nothing but the proxy path is measured (one node with slots for every
 * request, no health checks during the run, request logging off as nginx's access_log is).
 *
 * With `root` set it runs another build (the previous build, see baseline.ts): the same harness,
 * that build's balancer and gateway, resolved from its own checkout with its own dependencies.
 */
import { join } from 'node:path';
import { exitWithParent, failStartup, serveLoopDelay } from './child';
import type { GatewayChildOptions, ToChild } from './protocol';

type Balancer = typeof import('@ollama-ring/balancer');
type Server = typeof import('@ollama-ring/server');

/** Loaded at run time, so that only the build asked for is ever loaded into this process. */
function load(root: string | undefined): { PipelineFactory: Balancer['PipelineFactory']; defaultConfig: Balancer['defaultConfig']; Gateway: Server['Gateway'] } {
  // require, not import(): the path is chosen at run time, and CommonJS loads it synchronously.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const balancer = (root ? require(join(root, 'packages', 'balancer')) : require('@ollama-ring/balancer')) as Balancer;
  const server = (root ? require(join(root, 'packages', 'server')) : require('@ollama-ring/server')) as Server;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { PipelineFactory: balancer.PipelineFactory, defaultConfig: balancer.defaultConfig, Gateway: server.Gateway };
}

async function run(opts: GatewayChildOptions): Promise<void> {
  exitWithParent();
  serveLoopDelay();
  const { PipelineFactory, defaultConfig, Gateway } = load(opts.root);
  const config = defaultConfig();
  config.nodes = [{ id: 'sim', url: opts.simUrl, models: [], maxConcurrentRequests: opts.maxInFlight, weight: 1, enabled: true, tags: [], priority: 0 }];
  // Health checks and discovery run once at start (the factory waits for them), not during the run.
  config.healthCheck.intervalMs = 3_600_000;
  config.healthCheck.discoveryIntervalMs = 3_600_000;
  config.disruptor.maxGlobalInFlight = opts.maxInFlight;
  config.disruptor.dispatchPlacement = opts.placement;
  if (opts.metricsPlacement) (config.disruptor as { metricsPlacement?: string }).metricsPlacement = opts.metricsPlacement;
  config.queue.maxDepth = opts.maxInFlight;
  for (const [path, value] of Object.entries(opts.set ?? {})) setPath(config as unknown as Record<string, unknown>, path.split('.'), value);
  const factory = await PipelineFactory.fromConfig(config).start();
  // The Gateway's default logger is silent: no per-request log line, like nginx with access_log off.
  const gateway = new Gateway({ factory });
  const addr = await gateway.listen(0, '127.0.0.1');
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') void gateway.close(2_000).then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${addr.port}` });
}

/** Sets `obj.a.b.c = value`; an unknown key fails the start, so a typo never measures the default. */
function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  const [head, ...rest] = path;
  if (!(head in obj)) throw new Error(`--set: no config key '${head}'`);
  if (rest.length === 0) obj[head] = value;
  else setPath(obj[head] as Record<string, unknown>, rest, value);
}

run(JSON.parse(process.argv[2] ?? '{}') as GatewayChildOptions).catch(failStartup);
