/**
 * ollama-ring under test, alone in its own process: the real Gateway over a PipelineFactory,
 * configured so that nothing but the proxy path is measured (one node with slots for every
 * request, no health checks during the run, request logging off as nginx's access_log is).
 */
import { PipelineFactory, defaultConfig } from '@ollama-ring/balancer';
import { Gateway } from '@ollama-ring/server';
import { exitWithParent, failStartup, serveLoopDelay } from './child';
import type { GatewayChildOptions, ToChild } from './protocol';

async function run(opts: GatewayChildOptions): Promise<void> {
  exitWithParent();
  serveLoopDelay();
  const config = defaultConfig();
  config.nodes = [
    { id: 'sim', url: opts.simUrl, models: [], maxConcurrentRequests: opts.maxInFlight, weight: 1, enabled: true, tags: [], priority: 0 },
  ];
  // Health checks and discovery run once at start (the factory waits for them), not during the run.
  config.healthCheck.intervalMs = 3_600_000;
  config.healthCheck.discoveryIntervalMs = 3_600_000;
  config.disruptor.maxGlobalInFlight = opts.maxInFlight;
  config.disruptor.dispatchPlacement = opts.placement;
  config.queue.maxDepth = opts.maxInFlight;
  const factory = await PipelineFactory.fromConfig(config).start();
  // The Gateway's default logger is silent: no per-request log line, like nginx with access_log off.
  const gateway = new Gateway({ factory });
  const addr = await gateway.listen(0, '127.0.0.1');
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') void gateway.close(2_000).then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${addr.port}` });
}

run(JSON.parse(process.argv[2] ?? '{}') as GatewayChildOptions).catch(failStartup);
