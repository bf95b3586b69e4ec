import { Gauge, type Registry } from 'prom-client';
import { canServe, type NodeSnapshot } from './nodes/node-snapshot';

/**
 * The per-model availability families, on the balancer's registry, set from a view of the pool at
 * each scrape (nothing per request): `model_nodes{model}`, the nodes that have the model (configured
 * or discovered), and `model_nodes_serving{model}`, those of them that can take a request now
 * (enabled, not disabled or draining, not unhealthy, breaker not open). "Every node of a model is
 * down" is `model_nodes_serving == 0` while `model_nodes > 0`; the per-node gauges cannot say it,
 * since no metric ties a node to its models. A model no node has any more loses its series.
 *
 * @example
 * const m = new ModelNodeMetrics(registry, 'ollama_lb_', (model) => model);
 * m.sync(view.nodes);
 */
export class ModelNodeMetrics {
  private readonly total: Gauge<'model'>;
  private readonly serving: Gauge<'model'>;
  /** Labels set at the last sync, so that models gone lose their series. */
  private labels = new Set<string>();

  constructor(
    registry: Registry,
    prefix: string,
    /** The `model` label of a model name (the balancer's capped label set). */
    private readonly label: (model: string) => string,
  ) {
    const registers = [registry];
    this.total = new Gauge({ name: `${prefix}model_nodes`, help: 'Nodes that have the model (configured or discovered).', labelNames: ['model'], registers });
    this.serving = new Gauge({
      name: `${prefix}model_nodes_serving`,
      help: 'Nodes that have the model and can take a request now (enabled, not disabled or draining, not unhealthy, breaker not open).',
      labelNames: ['model'],
      registers,
    });
  }

  sync(nodes: readonly NodeSnapshot[]): void {
    const counts = new Map<string, { total: number; serving: number }>();
    for (const n of nodes) {
      if (n.removed) continue;
      const up = canServe(n);
      // A node listing two spellings of one model (or two models past the label cap) counts once per label.
      for (const model of new Set(n.models.map(this.label))) {
        const c = counts.get(model) ?? { total: 0, serving: 0 };
        c.total++;
        if (up) c.serving++;
        counts.set(model, c);
      }
    }
    for (const model of this.labels) {
      if (counts.has(model)) continue;
      this.total.remove({ model });
      this.serving.remove({ model });
    }
    this.labels = new Set(counts.keys());
    for (const [model, c] of counts) {
      this.total.set({ model }, c.total);
      this.serving.set({ model }, c.serving);
    }
  }

  /** Forgets which models have series (the registry's reset zeroes the values). */
  reset(): void {
    this.labels.clear();
  }
}
