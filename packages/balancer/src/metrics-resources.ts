import { Counter, Gauge, type Registry } from 'prom-client';
import type { ResourceSignals, ScrapeOutcome } from './nodes/resource-signals';

/**
 * What the resource gauges show of one node: a `NodeSnapshot` fits (its `resources` are already
 * the fresh ones, with their age).
 */
export interface NodeResourcesInput {
  readonly id: string;
  readonly resources?: ResourceSignals & { readonly ageMs: number };
}

/** Every outcome, pre-created per node so that a first failure is a rise from 0, not a new series. */
const OUTCOMES: readonly ScrapeOutcome[] = ['ok', 'empty', 'refused', 'timeout', 'http', 'malformed', 'network'];

type Signal = keyof ResourceSignals | 'ageSeconds';

/**
 * The node resource families, on the balancer's registry: the scrapes of each node's exporter
 * (`node_resource_scrapes_total{node,outcome}`, counted as they finish) and the signals the
 * strategies see, as gauges read from the pool view at scrape time: `node_cpu_load_per_core`,
 * `node_memory_free_ratio`, `node_gpu_memory_free_bytes`, `node_gpu_memory_total_bytes`,
 * `node_gpu_utilization_ratio`, `node_gpus`, `node_resource_age_seconds`. A node without a signal
 * (no exporter, a failed or stale scrape, no GPU) has no series for it: absent, never a made-up 0.
 *
 * @example
 * const r = new ResourceMetrics(registry, 'ollama_lb_');
 * r.recordScrape('gpu-1', 'timeout');
 * r.sync(view.nodes);
 */
export class ResourceMetrics {
  private readonly scrapes: Counter<'node' | 'outcome'>;
  private readonly gauges: ReadonlyArray<{ gauge: Gauge<'node'>; read: (r: NonNullable<NodeResourcesInput['resources']>) => number | undefined }>;
  /** Nodes with series, and which gauges each has set now. */
  private readonly seen = new Map<string, Set<Gauge<'node'>>>();

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.scrapes = new Counter({
      name: `${prefix}node_resource_scrapes_total`,
      help: "Scrapes of a node's exporter (nodes[].metricsUrl), by outcome: ok, empty (none of the resource metrics), refused, timeout, http, malformed, network.",
      labelNames: ['node', 'outcome'],
      registers,
    });
    const gauge = (name: string, help: string, read: (r: NonNullable<NodeResourcesInput['resources']>) => number | undefined) => ({
      gauge: new Gauge({ name: `${prefix}${name}`, help, labelNames: ['node'], registers }),
      read,
    });
    const defs: Record<Signal, ReturnType<typeof gauge>> = {
      cpuLoadPerCore: gauge('node_cpu_load_per_core', "The node's node_load1 divided by its CPU count (from its exporter).", (r) => r.cpuLoadPerCore),
      memFreeRatio: gauge('node_memory_free_ratio', "The node's MemAvailable / MemTotal (from its exporter).", (r) => r.memFreeRatio),
      gpuMemFreeBytes: gauge('node_gpu_memory_free_bytes', "Free GPU memory, summed over the node's GPUs (from its exporter).", (r) => r.gpuMemFreeBytes),
      gpuMemTotalBytes: gauge('node_gpu_memory_total_bytes', "GPU memory, summed over the node's GPUs (from its exporter).", (r) => r.gpuMemTotalBytes),
      gpuUtil: gauge('node_gpu_utilization_ratio', "Mean utilisation of the node's GPUs, 0-1 (from its exporter).", (r) => r.gpuUtil),
      gpuCount: gauge('node_gpus', "GPUs in the node's exporter.", (r) => r.gpuCount),
      ageSeconds: gauge('node_resource_age_seconds', "Age of the node's resource signals (the last good scrape).", (r) => r.ageMs / 1000),
    };
    this.gauges = Object.values(defs);
  }

  /** A scrape of `node`'s exporter finished. */
  recordScrape(node: string, outcome: ScrapeOutcome): void {
    if (!this.seen.has(node)) {
      for (const o of OUTCOMES) this.scrapes.inc({ node, outcome: o }, 0);
      this.seen.set(node, new Set());
    }
    this.scrapes.inc({ node, outcome });
  }

  /** Every node's gauges from a snapshot of the pool; signals a node lacks, and nodes gone, lose their series. */
  sync(nodes: readonly NodeResourcesInput[]): void {
    const present = new Set<string>();
    for (const n of nodes) {
      present.add(n.id);
      let set = this.seen.get(n.id);
      if (!set && n.resources === undefined) continue;
      if (!set) this.seen.set(n.id, (set = new Set()));
      for (const { gauge, read } of this.gauges) {
        const v = n.resources === undefined ? undefined : read(n.resources);
        if (v !== undefined && Number.isFinite(v)) {
          gauge.set({ node: n.id }, v);
          set.add(gauge);
        } else if (set.delete(gauge)) gauge.remove({ node: n.id });
      }
    }
    for (const [id, set] of this.seen) {
      if (present.has(id)) continue;
      for (const g of set) g.remove({ node: id });
      for (const o of OUTCOMES) this.scrapes.remove({ node: id, outcome: o });
      this.seen.delete(id);
    }
  }

  /** Forgets every series (with the registry's reset). */
  reset(): void {
    this.seen.clear();
  }
}
