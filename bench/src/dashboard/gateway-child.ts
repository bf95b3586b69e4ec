/**
 * The gateway of `bench:dashboard`, alone in its own process so that its CPU time is its own: the
 * demo's balancer config (`balancerConfigFor`) over the simulated nodes the driver started, every
 * route (the dashboard's included), no logging.
 */
import { PipelineFactory } from '@ollama-ring/balancer';
import type { SimPool, SimPoolConfig } from '@ollama-ring/ollama-sim';
import { Gateway, allRoutes, silentLogger } from '@ollama-ring/server';
import { balancerConfigFor } from '@ollama-ring/server/dist/demo/stack';
import { exitWithParent, failStartup } from '../proxy/child';
import type { ToChild } from '../proxy/protocol';

export interface GatewayChildArgs {
  simConfig: SimPoolConfig;
  nodes: { id: string; url: string }[];
}

async function run(a: GatewayChildArgs): Promise<void> {
  exitWithParent();
  // balancerConfigFor reads only the started nodes' ids and URLs of the pool.
  const config = balancerConfigFor(a.simConfig, { nodes: a.nodes } as unknown as SimPool);
  const factory = await PipelineFactory.fromConfig(config).start();
  const gateway = new Gateway({ factory, logger: silentLogger(), routes: allRoutes });
  const addr = await gateway.listen(0, '127.0.0.1');
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') void gateway.close(2_000).then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${addr.port}` });
}

run(JSON.parse(process.argv[2] ?? '{}') as GatewayChildArgs).catch(failStartup);
