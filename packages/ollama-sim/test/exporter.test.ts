/** The node's Prometheus exporter at GET /metrics: what it reports, idle and loaded, in both GPU formats. */
import { SimConfigError, type SimModelConfig, type SimNode, validateSimConfig } from '@ollama-ring/ollama-sim';
import { eventually, node, postJson, withPool } from './helpers';

const GIB = 2 ** 30;
const MIB = 2 ** 20;
/** A model of a known size whose answers never end on their own (the tests abort them). */
const ENDLESS: SimModelConfig = { name: 'endless', size: 6 * GIB, loadMs: 0, responseTokens: { min: 1_000_000, max: 1_000_000 } };

/** The value of the first series of `name` whose labels contain `labels` (e.g. `gpu="1"`). */
function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) return Number(m[3]);
  }
  return undefined;
}

async function metrics(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** Starts `n` generations that stream until aborted; resolves once the node counts them all. */
async function busy(sim: SimNode, n: number, abort: AbortController): Promise<void> {
  for (let i = 0; i < n; i++) {
    void postJson(`${sim.url}/api/generate`, { model: 'endless', prompt: 'x' }, { signal: abort.signal })
      // Read to the end, which is the abort.
      .then((r) => r.body?.pipeTo(new WritableStream()))
      .catch(() => undefined);
  }
  expect(await eventually(() => sim.state().inferenceInFlight === n, 10_000)).toBe(true);
}

describe('exporter', () => {
  it('is not there unless configured: 404, as from Ollama', () =>
    withPool({ nodes: [node({ models: [ENDLESS] })] }, async (pool) => {
      const res = await fetch(`${pool.nodes[0].url}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('404 page not found');
    }));

  it('an idle node: no load, its resident models in GPU memory spread over its GPUs (DCGM: MiB, percent)', () =>
    withPool(
      { nodes: [node({ numParallel: 2, models: [ENDLESS], preload: ['endless'], exporter: { cpus: 4, gpus: 2, vramBytes: 8 * GIB, memoryBytes: 32 * GIB } })] },
      async (pool) => {
        const text = await metrics(pool.nodes[0].url);
        expect(text).toContain('# TYPE node_load1 gauge');
        expect(sample(text, 'node_load1')).toBe(0);
        for (let cpu = 0; cpu < 4; cpu++) expect(sample(text, 'node_cpu_seconds_total', `cpu="${cpu}",mode="idle"`)).toBeGreaterThanOrEqual(0);
        expect(sample(text, 'node_cpu_seconds_total', 'cpu="4"')).toBeUndefined();
        expect(sample(text, 'node_memory_MemTotal_bytes')).toBe(32 * GIB);
        // All in VRAM: only the system's 1 GiB is taken from the host.
        expect(sample(text, 'node_memory_MemAvailable_bytes')).toBe(31 * GIB);
        for (const gpu of ['0', '1']) {
          expect(sample(text, 'DCGM_FI_DEV_FB_USED', `gpu="${gpu}"`)).toBe((3 * GIB) / MIB);
          expect(sample(text, 'DCGM_FI_DEV_FB_FREE', `gpu="${gpu}"`)).toBe((5 * GIB) / MIB);
          expect(sample(text, 'DCGM_FI_DEV_GPU_UTIL', `gpu="${gpu}"`)).toBe(0);
        }
      },
    ));

  it('a loaded node: load1 and GPU utilisation follow the requests in progress, and fall back when they end', () =>
    withPool({ nodes: [node({ numParallel: 2, tokensPerSec: 50, models: [ENDLESS], preload: ['endless'], exporter: { cpus: 8 } })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const abort = new AbortController();
      try {
        await busy(pool.nodes[0], 2, abort);
        const text = await metrics(url);
        expect(sample(text, 'node_load1')).toBe(8); // every slot busy: one runnable task per core
        expect(sample(text, 'DCGM_FI_DEV_GPU_UTIL')).toBe(100);
        const user0 = sample(text, 'node_cpu_seconds_total', 'cpu="0",mode="user"') ?? 0;
        expect(await eventually(async () => (sample(await metrics(url), 'node_cpu_seconds_total', 'cpu="0",mode="user"') ?? 0) > user0, 10_000)).toBe(true);
      } finally {
        abort.abort();
      }
      expect(await eventually(async () => sample(await metrics(url), 'node_load1') === 0, 10_000)).toBe(true);
      expect(sample(await metrics(url), 'DCGM_FI_DEV_GPU_UTIL')).toBe(0);
    }));

  it('nvidia_gpu_exporter format: bytes and a 0-1 ratio, one series per GPU by uuid', () =>
    withPool({ nodes: [node({ numParallel: 4, models: [ENDLESS], preload: ['endless'], exporter: { gpuFormat: 'nvidia-smi', vramBytes: 16 * GIB } })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const abort = new AbortController();
      try {
        await busy(pool.nodes[0], 1, abort);
        const text = await metrics(url);
        expect(sample(text, 'nvidia_smi_memory_total_bytes', 'uuid="')).toBe(16 * GIB);
        expect(sample(text, 'nvidia_smi_memory_used_bytes')).toBe(6 * GIB);
        expect(sample(text, 'nvidia_smi_memory_free_bytes')).toBe(10 * GIB);
        expect(sample(text, 'nvidia_smi_utilization_gpu_ratio')).toBe(0.25);
        expect(text).not.toContain('DCGM_');
      } finally {
        abort.abort();
      }
    }));

  it('a CPU-only node has no GPU families, and its models take host memory', () =>
    withPool({ nodes: [node({ gpu: false, models: [ENDLESS], preload: ['endless'], exporter: { memoryBytes: 16 * GIB } })] }, async (pool) => {
      const text = await metrics(pool.nodes[0].url);
      expect(text).not.toMatch(/DCGM_|nvidia_smi_/);
      expect(sample(text, 'node_memory_MemAvailable_bytes')).toBe(9 * GIB);
    }));

  it('a GPU overfull with models reports no free memory, never a negative one', () =>
    withPool({ nodes: [node({ models: [ENDLESS], preload: ['endless'], exporter: { vramBytes: 4 * GIB } })] }, async (pool) => {
      const text = await metrics(pool.nodes[0].url);
      expect(sample(text, 'DCGM_FI_DEV_FB_FREE')).toBe(0);
      expect(sample(text, 'DCGM_FI_DEV_FB_USED')).toBe((4 * GIB) / MIB);
    }));

  it('rejects a bad exporter config, naming the field', () => {
    expect(() => validateSimConfig({ nodes: [node({ exporter: { gpuFormat: 'rocm' as 'dcgm' } })] })).toThrow(SimConfigError);
    expect(() => validateSimConfig({ nodes: [node({ exporter: { cpus: 0 } })] })).toThrow(/\/nodes\/0\/exporter\/cpus/);
  });
});
