/**
 * A node's resource signals: what its Prometheus exporters (`nodes[].metricsUrl`) say about its
 * CPU, memory and GPUs, reduced to a few numbers that strategies read. The scrape runs on the health
 * interval (`HealthMonitor`), the numbers reach the node as a `resources-scraped` event, and a
 * strategy reads them with `PoolNode.resources(now)`: parsed once per scrape, never per request.
 *
 * Families read (any mix; a family that is absent leaves its signal unknown):
 * - node_exporter: `node_load1`, `node_cpu_seconds_total` (its distinct `cpu` labels count the
 *   CPUs), `node_memory_MemAvailable_bytes`, `node_memory_MemTotal_bytes`;
 * - NVIDIA DCGM exporter: `DCGM_FI_DEV_FB_FREE` and `DCGM_FI_DEV_FB_USED` (MiB),
 *   `DCGM_FI_DEV_GPU_UTIL` (percent);
 * - nvidia_gpu_exporter: `nvidia_smi_memory_free_bytes`, `nvidia_smi_memory_total_bytes`,
 *   `nvidia_smi_utilization_gpu_ratio` (0–1).
 * Several GPUs (one series each, told apart by their labels) add up: free and total memory are
 * summed, utilisation is averaged. When both GPU exporters answer, DCGM's numbers are used.
 */
import type { PromSample } from './prometheus-text';

/**
 * What a node's exporters said at one scrape. Every signal is optional: a node exports what it
 * has (a CPU-only node has no GPU families), and NaN or missing series leave a signal out.
 *
 * @example
 * const r = node.resources(ctx.now);
 * const busy = r?.cpuLoadPerCore !== undefined && r.cpuLoadPerCore > 0.9;
 */
export interface ResourceSignals {
  /** `node_load1` divided by the CPU count: 1 means every core had a runnable task on average. */
  readonly cpuLoadPerCore?: number;
  /** `MemAvailable / MemTotal` of the host, in [0, 1]. */
  readonly memFreeRatio?: number;
  /** Free GPU memory, summed over the node's GPUs, in bytes. */
  readonly gpuMemFreeBytes?: number;
  /** GPU memory in all (free + used), summed over the GPUs that reported their free memory, in bytes. */
  readonly gpuMemTotalBytes?: number;
  /** Mean GPU utilisation over the node's GPUs, in [0, 1]. */
  readonly gpuUtil?: number;
  /** GPUs seen in the exposition. */
  readonly gpuCount?: number;
}

/**
 * The signals a node holds: those of its last successful scrape, with when it was taken. Age is
 * `now - scrapedAt` (epoch ms, the scheduler's clock); past `staleAt` the signals count as absent,
 * and `PoolNode.resources(now)` returns undefined.
 *
 * @example
 * const r = node.resources(ctx.now);
 * if (r) console.log(`${ctx.now - r.scrapedAt} ms old`, r.gpuMemFreeBytes);
 */
export interface NodeResources extends ResourceSignals {
  /** Epoch ms when the scrape finished. */
  readonly scrapedAt: number;
  /** Epoch ms from which these signals are too old to use (see {@link resourceMaxAgeMs}). */
  readonly staleAt: number;
}

/**
 * How a scrape ended, for `node_resource_scrapes_total{outcome}`: `ok`; `empty` (the URL answered
 * but with none of the families above: a wrong `metricsUrl`); or why it failed, as for probes:
 * `refused`, `timeout`, `http`, `malformed`, `network`.
 *
 * @example
 * metrics.recordResourceScrape('gpu-1', 'timeout');
 */
export type ScrapeOutcome = 'ok' | 'empty' | 'refused' | 'timeout' | 'http' | 'malformed' | 'network';

/** The families {@link resourceSignals} reads: the parser skips every other line after its name. */
export const RESOURCE_FAMILIES: ReadonlySet<string> = new Set([
  'node_load1',
  'node_cpu_seconds_total',
  'node_memory_MemAvailable_bytes',
  'node_memory_MemTotal_bytes',
  'DCGM_FI_DEV_FB_FREE',
  'DCGM_FI_DEV_FB_USED',
  'DCGM_FI_DEV_GPU_UTIL',
  'nvidia_smi_memory_free_bytes',
  'nvidia_smi_memory_total_bytes',
  'nvidia_smi_utilization_gpu_ratio',
]);

const MIB = 2 ** 20;

/** One GPU's numbers, keyed by its label set. */
interface Gpu {
  free?: number;
  used?: number;
  total?: number;
  util?: number;
}

/**
 * Reduces an exposition's samples to the node's signals; `{}` when none of the families is there.
 *
 * @example
 * resourceSignals(parsePrometheusText(text, RESOURCE_FAMILIES)).cpuLoadPerCore; // e.g. 0.42
 */
export function resourceSignals(samples: readonly PromSample[]): ResourceSignals {
  let load1: number | undefined;
  let memAvailable: number | undefined;
  let memTotal: number | undefined;
  const cpus = new Set<string>();
  const dcgm = new Map<string, Gpu>();
  const smi = new Map<string, Gpu>();
  for (const s of samples) {
    const v = s.value;
    switch (s.name) {
      case 'node_load1':
        load1 ??= finiteOr(v);
        break;
      case 'node_cpu_seconds_total':
        if (s.labels.cpu !== undefined) cpus.add(s.labels.cpu);
        break;
      case 'node_memory_MemAvailable_bytes':
        memAvailable ??= finiteOr(v);
        break;
      case 'node_memory_MemTotal_bytes':
        memTotal ??= finiteOr(v);
        break;
      case 'DCGM_FI_DEV_FB_FREE':
        gpu(dcgm, s).free = mib(v);
        break;
      case 'DCGM_FI_DEV_FB_USED':
        gpu(dcgm, s).used = mib(v);
        break;
      case 'DCGM_FI_DEV_GPU_UTIL':
        gpu(dcgm, s).util = finiteOr(v / 100);
        break;
      case 'nvidia_smi_memory_free_bytes':
        gpu(smi, s).free = finiteOr(v);
        break;
      case 'nvidia_smi_memory_total_bytes':
        gpu(smi, s).total = finiteOr(v);
        break;
      case 'nvidia_smi_utilization_gpu_ratio':
        gpu(smi, s).util = finiteOr(v);
        break;
    }
  }
  const out: { -readonly [K in keyof ResourceSignals]: ResourceSignals[K] } = {};
  if (load1 !== undefined && cpus.size > 0) out.cpuLoadPerCore = Math.max(0, load1) / cpus.size;
  if (memAvailable !== undefined && memTotal !== undefined && memTotal > 0) out.memFreeRatio = clamp01(memAvailable / memTotal);
  const gpus = dcgm.size > 0 ? dcgm : smi;
  if (gpus.size > 0) {
    out.gpuCount = gpus.size;
    let free = 0;
    let total = 0;
    let withMemory = 0;
    let util = 0;
    let withUtil = 0;
    for (const g of gpus.values()) {
      const t = g.total ?? (g.free !== undefined && g.used !== undefined ? g.free + g.used : undefined);
      if (g.free !== undefined && t !== undefined) {
        free += Math.max(0, g.free);
        total += Math.max(0, t);
        withMemory++;
      }
      if (g.util !== undefined) {
        util += clamp01(g.util);
        withUtil++;
      }
    }
    if (withMemory > 0) {
      out.gpuMemFreeBytes = free;
      out.gpuMemTotalBytes = total;
    }
    if (withUtil > 0) out.gpuUtil = util / withUtil;
  }
  return out;
}

/** True when the signals say nothing (the URL served none of the families). */
export function isEmptySignals(r: ResourceSignals): boolean {
  return Object.keys(r).length === 0;
}

/**
 * How old a node's signals may get before they count as absent: three health intervals plus a
 * probe's deadline, so a scrape or two lost in a row keep the last numbers, and a node whose
 * exporter has gone quiet turns neutral rather than being judged on old load.
 *
 * @example
 * resourceMaxAgeMs(config); // 95_000 with the defaults (30 s interval, 5 s timeout)
 */
export function resourceMaxAgeMs(config: { readonly healthCheck: { readonly intervalMs: number }; readonly timeouts: { readonly healthCheckTimeoutMs: number } }): number {
  return 3 * config.healthCheck.intervalMs + config.timeouts.healthCheckTimeoutMs;
}

/**
 * The signals as `/api/stats` and the admin API show them: the numbers and their age, or undefined
 * when there are none or they are stale.
 *
 * @example
 * resourcesView(node.resources(now), now); // { cpuLoadPerCore: 0.4, …, ageMs: 1200 }
 */
export function resourcesView(r: NodeResources | undefined, now: number): (ResourceSignals & { ageMs: number }) | undefined {
  if (r === undefined) return undefined;
  return {
    cpuLoadPerCore: r.cpuLoadPerCore,
    memFreeRatio: r.memFreeRatio,
    gpuMemFreeBytes: r.gpuMemFreeBytes,
    gpuMemTotalBytes: r.gpuMemTotalBytes,
    gpuUtil: r.gpuUtil,
    gpuCount: r.gpuCount,
    ageMs: Math.max(0, now - r.scrapedAt),
  };
}

function gpu(map: Map<string, Gpu>, s: PromSample): Gpu {
  // A GPU is known by its UUID (DCGM: `UUID`, nvidia_gpu_exporter: `uuid`) or index; failing those,
  // by its whole label set, sorted so that label order in the text does not matter.
  const l = s.labels;
  const key =
    l.UUID ??
    l.uuid ??
    l.gpu ??
    Object.keys(l)
      .sort()
      .map((k) => `${k}=${l[k]}`)
      .join('\u0000');
  let g = map.get(key);
  if (!g) map.set(key, (g = {}));
  return g;
}

function finiteOr(v: number): number | undefined {
  return Number.isFinite(v) ? v : undefined;
}

function mib(v: number): number | undefined {
  return Number.isFinite(v) ? v * MIB : undefined;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
