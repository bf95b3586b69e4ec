/**
 * `GET /metrics`: the Prometheus exporter a real host runs beside Ollama (node_exporter, and DCGM's
 * or nvidia_gpu_exporter for its GPUs), with numbers that follow the node's simulated load:
 * - `node_load1` = CPUs × inference requests in progress / `numParallel` (at once, not the kernel's
 *   one-minute average, so a test sees load as soon as it starts);
 * - `node_cpu_seconds_total{cpu,mode}`: user and idle seconds per CPU, counted at the busy fraction;
 * - `node_memory_MemTotal_bytes` / `MemAvailable_bytes`: the host's memory less the part of resident
 *   models that is not in VRAM (all of it on a CPU-only node) and 1 GiB for the system;
 * - per GPU (GPU nodes only): memory used = the resident models' `size_vram` spread over the GPUs,
 *   free = VRAM − used (never below 0); utilisation = busy slots / `numParallel`, capped at 100%.
 * A node without `exporter` in its config answers 404, as Ollama does.
 */
import { createHash } from 'node:crypto';
import type { NodeContext } from '../context';
import type { RouteRequest } from './types';

const MIB = 2 ** 20;
const SYSTEM_BYTES = 2 ** 30;
const NOT_FOUND = '404 page not found';

export function handleMetrics(ctx: NodeContext, r: RouteRequest): void {
  const exporter = ctx.config.exporter;
  if (!exporter) {
    r.res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': NOT_FOUND.length });
    r.res.end(NOT_FOUND);
    return;
  }
  const text = exposition(ctx, exporter);
  r.res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  r.res.end(text);
}

/** What the exporter reports now, as Prometheus text. */
function exposition(ctx: NodeContext, ex: NonNullable<NodeContext['config']['exporter']>): string {
  const { config, scheduler, stats } = ctx;
  const runners = scheduler.views();
  const busy = Math.min(1, stats.inferenceInFlight / config.numParallel);
  const cpu = countCpuTime(ctx, busy);
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, rows: [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${formatValue(v)}`);
  };

  family('node_load1', 'gauge', '1m load average.', [['', (ex.cpus * stats.inferenceInFlight) / config.numParallel]]);
  const cpuRows: [string, number][] = [];
  for (let i = 0; i < ex.cpus; i++) cpuRows.push([`{cpu="${i}",mode="idle"}`, cpu.idle], [`{cpu="${i}",mode="user"}`, cpu.user]);
  family('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.', cpuRows);
  const inRam = runners.reduce((sum, v) => sum + Math.max(0, v.model.size - v.model.sizeVram), 0);
  family('node_memory_MemAvailable_bytes', 'gauge', 'Memory information field MemAvailable_bytes.', [['', Math.max(0, ex.memoryBytes - SYSTEM_BYTES - inRam)]]);
  family('node_memory_MemTotal_bytes', 'gauge', 'Memory information field MemTotal_bytes.', [['', ex.memoryBytes]]);

  if (config.gpu) {
    const usedEach = runners.reduce((sum, v) => sum + v.model.sizeVram, 0) / ex.gpus;
    const slotsInUse = runners.reduce((sum, v) => sum + v.slotsInUse, 0);
    const util = Math.min(1, slotsInUse / config.numParallel);
    const gpus = Array.from({ length: ex.gpus }, (_, i) => ({
      i,
      uuid: gpuUuid(config.id, i),
      used: Math.min(ex.vramBytes, usedEach),
      free: Math.max(0, ex.vramBytes - usedEach),
    }));
    if (ex.gpuFormat === 'dcgm') {
      const labels = (g: (typeof gpus)[number]) => `{gpu="${g.i}",UUID="${g.uuid}",device="nvidia${g.i}",modelName="Simulated GPU",Hostname="${config.id}"}`;
      family(
        'DCGM_FI_DEV_GPU_UTIL',
        'gauge',
        'GPU utilization (in %).',
        gpus.map((g) => [labels(g), Math.round(util * 100)]),
      );
      family(
        'DCGM_FI_DEV_FB_FREE',
        'gauge',
        'Framebuffer memory free (in MiB).',
        gpus.map((g) => [labels(g), Math.floor(g.free / MIB)]),
      );
      family(
        'DCGM_FI_DEV_FB_USED',
        'gauge',
        'Framebuffer memory used (in MiB).',
        gpus.map((g) => [labels(g), Math.ceil(g.used / MIB)]),
      );
    } else {
      const labels = (g: (typeof gpus)[number]) => `{uuid="${g.uuid.slice(4).toLowerCase()}"}`;
      family(
        'nvidia_smi_utilization_gpu_ratio',
        'gauge',
        'utilization.gpu [%]',
        gpus.map((g) => [labels(g), util]),
      );
      family(
        'nvidia_smi_memory_free_bytes',
        'gauge',
        'memory.free [MiB]',
        gpus.map((g) => [labels(g), g.free]),
      );
      family(
        'nvidia_smi_memory_used_bytes',
        'gauge',
        'memory.used [MiB]',
        gpus.map((g) => [labels(g), g.used]),
      );
      family(
        'nvidia_smi_memory_total_bytes',
        'gauge',
        'memory.total [MiB]',
        gpus.map((g) => [labels(g), ex.vramBytes]),
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** Adds the time since the last scrape to the CPU counters, at the busy fraction; returns them. */
function countCpuTime(ctx: NodeContext, busy: number): { user: number; idle: number } {
  const t = ctx.cpuTime;
  const now = ctx.ticker.now();
  const dt = Math.max(0, now - t.at) / 1000;
  t.at = now;
  t.user += dt * busy;
  t.idle += dt * (1 - busy);
  return t;
}

/** A stable UUID per node and GPU, shaped as NVIDIA's (`GPU-xxxxxxxx-xxxx-…`). */
function gpuUuid(nodeId: string, i: number): string {
  const h = createHash('sha256').update(`${nodeId}/${i}`).digest('hex');
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}
