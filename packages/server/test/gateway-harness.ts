import type { BalancerConfig } from '@ollama-ring/balancer';
import type { SimNodeConfig } from '@ollama-ring/ollama-sim';
import { Gateway, type GatewayOptions } from '../src';
import { startHarness, type Harness } from '../../balancer/test/e2e/harness';

export interface GatewayHarness extends Harness {
  gateway: Gateway;
  url: string;
}

/** A simulated pool, a balancer, and the gateway in front of them on a free port. */
export async function startGateway(nodes: SimNodeConfig[], tweak: (c: BalancerConfig) => void = () => undefined, opts: Partial<GatewayOptions> = {}): Promise<GatewayHarness> {
  const h = await startHarness(nodes, tweak);
  const gateway = new Gateway({ factory: h.factory, ...opts });
  const addr = await gateway.listen(0, '127.0.0.1');
  return {
    ...h,
    gateway,
    url: `${gateway.scheme}://127.0.0.1:${addr.port}`,
    async close() {
      await gateway.close(5_000);
      await h.close(); // the factory is stopped already; the emulator and the data directory go
    },
  };
}
