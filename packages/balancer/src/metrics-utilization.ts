import { Gauge, type Registry } from 'prom-client';
import type { PoolUtilization } from './scheduler/load-imbalance';

/**
 * The utilization families, on the balancer's registry, set from a view of the pool at each scrape
 * (nothing per request): `node_utilization{node,window}` (busy slot time ÷ capacity slot time) and
 * `load_imbalance{window}` ((max − min) ÷ mean utilization of the nodes serving a model, the largest
 * over models), each over the last minute (`window="1m"`) and since start (`window="start"`). A node
 * that left the pool loses its series; an imbalance that cannot be computed has none.
 *
 * @example
 * const u = new UtilizationMetrics(registry, 'ollama_lb_');
 * u.sync(poolUtilization(view));
 */
export class UtilizationMetrics {
  private readonly utilization: Gauge<'node' | 'window'>;
  private readonly imbalance: Gauge<'window'>;
  /** Nodes whose utilization was last set, so that those gone from the pool lose their series. */
  private nodes = new Set<string>();

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.utilization = new Gauge({
      name: `${prefix}node_utilization`,
      help: 'Busy slot time ÷ capacity slot time of the node, over the last minute (window="1m") or since it joined (window="start").',
      labelNames: ['node', 'window'],
      registers,
    });
    this.imbalance = new Gauge({
      name: `${prefix}load_imbalance`,
      help: '(max − min) ÷ mean utilization of the nodes serving a model, the largest over models two or more nodes serve; absent when none does.',
      labelNames: ['window'],
      registers,
    });
  }

  sync(u: PoolUtilization): void {
    const present = new Set(Object.keys(u.nodes));
    for (const id of this.nodes) {
      if (present.has(id)) continue;
      this.utilization.remove({ node: id, window: '1m' });
      this.utilization.remove({ node: id, window: 'start' });
    }
    this.nodes = present;
    for (const [node, n] of Object.entries(u.nodes)) {
      this.utilization.set({ node, window: '1m' }, n.lastMinute);
      this.utilization.set({ node, window: 'start' }, n.sinceStart);
    }
    for (const [window, v] of [
      ['1m', u.imbalance.lastMinute],
      ['start', u.imbalance.sinceStart],
    ] as const) {
      if (v === null) this.imbalance.remove({ window });
      else this.imbalance.set({ window }, v);
    }
  }

  /** Forgets which nodes have series (the registry's reset zeroes the values). */
  reset(): void {
    this.nodes.clear();
  }
}
