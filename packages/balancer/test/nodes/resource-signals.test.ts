// Reading node exporters: the Prometheus text parser, and the reduction of its samples to a node's
// resource signals, on expositions shaped as node_exporter, DCGM and nvidia_gpu_exporter write them.
import { ExpositionError, parsePrometheusText } from '../../src/nodes/prometheus-text';
import { RESOURCE_FAMILIES, resourceMaxAgeMs, resourceSignals, resourcesView } from '../../src/nodes/resource-signals';

const MIB = 2 ** 20;
const GIB = 2 ** 30;
const signalsOf = (text: string) => resourceSignals(parsePrometheusText(text, RESOURCE_FAMILIES));

const NODE_EXPORTER = `# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 3
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 12345.67
node_cpu_seconds_total{cpu="0",mode="user"} 42.1
node_cpu_seconds_total{cpu="1",mode="idle"} 12000
node_cpu_seconds_total{cpu="1",mode="user"} 40
node_cpu_seconds_total{cpu="2",mode="idle"} 1.2e4
node_cpu_seconds_total{cpu="3",mode="idle"} 1.2e+04
# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 1.6e+10
node_memory_MemTotal_bytes 6.4e+10
node_network_receive_bytes_total{device="eth0"} 9.9e+09
`;

const dcgm = (gpu: number, free: number, used: number, util: number) => {
  const l = `{gpu="${gpu}",UUID="GPU-${gpu}aaa",device="nvidia${gpu}",modelName="NVIDIA A100",Hostname="h1"}`;
  return `DCGM_FI_DEV_GPU_UTIL${l} ${util}\nDCGM_FI_DEV_FB_FREE${l} ${free}\nDCGM_FI_DEV_FB_USED${l} ${used}\n`;
};

describe('parsePrometheusText', () => {
  const all = new Set(['a', 'b', 'c_total']);

  it('reads names, labels, values and skips comments, blank lines, timestamps and other families', () => {
    const text = '# HELP a x\n# TYPE a gauge\n\na 1\n  b{x="1", y="two"} -2.5 1700000000000\nother{z="q"} 9\nc_total{} +Inf\r\n# EOF\n';
    expect(parsePrometheusText(text, all)).toEqual([
      { name: 'a', labels: {}, value: 1 },
      { name: 'b', labels: { x: '1', y: 'two' }, value: -2.5 },
      { name: 'c_total', labels: {}, value: Infinity },
    ]);
  });

  it('unescapes label values, with commas, braces and quotes inside them', () => {
    const [s] = parsePrometheusText('a{path="C:\\\\dir",msg="say \\"hi\\", {x}\\nbye",} 3\n', all);
    expect(s.labels).toEqual({ path: 'C:\\dir', msg: 'say "hi", {x}\nbye' });
    expect(s.value).toBe(3);
  });

  it('reads NaN and ±Inf in any case Go accepts, and ignores an OpenMetrics exemplar', () => {
    const values = parsePrometheusText('a NaN\na -Inf\na inf\nb 1e-3 # {trace_id="x"} 0.5 1\n', all).map((s) => s.value);
    expect(values).toEqual([NaN, -Infinity, Infinity, 0.001]);
  });

  it('rejects a malformed line of a wanted family, with its line number, and only of a wanted one', () => {
    expect(() => parsePrometheusText('a 1\nb{x="1" 2\n', all)).toThrow(ExpositionError);
    expect(() => parsePrometheusText('a 1\nb{x="1" 2\n', all)).toThrow(/line 2/);
    expect(() => parsePrometheusText('a one\n', all)).toThrow(/a: expected a value, got "one"/);
    expect(() => parsePrometheusText('a{x="unterminated} 1\n', all)).toThrow(/unterminated/);
    expect(() => parsePrometheusText('a\n', all)).toThrow(ExpositionError);
    expect(parsePrometheusText('weird{x=1} what\na 2\n', all)).toEqual([{ name: 'a', labels: {}, value: 2 }]);
  });
});

describe('resourceSignals', () => {
  it('node_exporter: load per core over the distinct CPUs, available memory over total', () => {
    expect(signalsOf(NODE_EXPORTER)).toEqual({ cpuLoadPerCore: 0.75, memFreeRatio: 0.25 });
  });

  it('DCGM: MiB to bytes, free and total summed over the GPUs, utilisation percent averaged', () => {
    const r = signalsOf(dcgm(0, 1024, 7168, 90) + dcgm(1, 4096, 4096, 10));
    expect(r).toEqual({ gpuCount: 2, gpuMemFreeBytes: 5120 * MIB, gpuMemTotalBytes: 16 * GIB, gpuUtil: 0.5 });
  });

  it('nvidia_gpu_exporter: bytes and a 0-1 ratio, per uuid', () => {
    const text = [
      'nvidia_smi_memory_free_bytes{uuid="a"} 2147483648',
      'nvidia_smi_memory_total_bytes{uuid="a"} 8589934592',
      'nvidia_smi_utilization_gpu_ratio{uuid="a"} 0.8',
      'nvidia_smi_memory_free_bytes{uuid="b"} 0',
      'nvidia_smi_memory_total_bytes{uuid="b"} 8589934592',
      'nvidia_smi_utilization_gpu_ratio{uuid="b"} 1',
      '',
    ].join('\n');
    expect(signalsOf(text)).toEqual({ gpuCount: 2, gpuMemFreeBytes: 2 * GIB, gpuMemTotalBytes: 16 * GIB, gpuUtil: 0.9 });
  });

  it('a GPU whose series come in another label order is still one GPU', () => {
    const text = 'DCGM_FI_DEV_FB_FREE{gpu="0",UUID="u"} 10\nDCGM_FI_DEV_FB_USED{UUID="u",gpu="0"} 30\n';
    expect(signalsOf(text)).toEqual({ gpuCount: 1, gpuMemFreeBytes: 10 * MIB, gpuMemTotalBytes: 40 * MIB });
  });

  it('both GPU exporters: DCGM is read, not both added up', () => {
    const text = dcgm(0, 1024, 1024, 50) + 'nvidia_smi_memory_free_bytes{uuid="x"} 1\nnvidia_smi_memory_total_bytes{uuid="x"} 2\n';
    expect(signalsOf(text).gpuMemFreeBytes).toBe(1024 * MIB);
  });

  it('NaN, missing halves and missing families leave the signal out rather than guess', () => {
    // NaN load; CPUs without a load; a GPU with free memory but no total; utilisation NaN.
    const text =
      'node_load1 NaN\nnode_cpu_seconds_total{cpu="0",mode="idle"} 1\nnode_memory_MemTotal_bytes 100\nDCGM_FI_DEV_FB_FREE{gpu="0"} 10\nDCGM_FI_DEV_GPU_UTIL{gpu="0"} NaN\n';
    expect(signalsOf(text)).toEqual({ gpuCount: 1 });
    expect(signalsOf('node_load1 2\n')).toEqual({});
    expect(signalsOf('up 1\n')).toEqual({});
    expect(signalsOf('')).toEqual({});
  });

  it('one GPU without numbers does not hide the others', () => {
    const text = dcgm(0, 1024, 1024, 40) + 'DCGM_FI_DEV_FB_FREE{gpu="1"} NaN\nDCGM_FI_DEV_FB_USED{gpu="1"} 5\n';
    expect(signalsOf(text)).toEqual({ gpuCount: 2, gpuMemFreeBytes: 1024 * MIB, gpuMemTotalBytes: 2048 * MIB, gpuUtil: 0.4 });
  });
});

describe('age', () => {
  it('signals go stale after three health intervals plus a probe timeout', () => {
    expect(resourceMaxAgeMs({ healthCheck: { intervalMs: 30_000 }, timeouts: { healthCheckTimeoutMs: 5_000 } })).toBe(95_000);
  });

  it('the view of them carries their age', () => {
    const r = { cpuLoadPerCore: 0.5, scrapedAt: 1_000, staleAt: 9_000 };
    expect(resourcesView(r, 1_250)).toMatchObject({ cpuLoadPerCore: 0.5, ageMs: 250 });
    expect(resourcesView(undefined, 1_250)).toBeUndefined();
  });
});
