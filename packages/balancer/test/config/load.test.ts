import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { defaultConfig, loadConfig, parseConfig, resolveConfig, type BalancerConfig } from '../../src/config';
import { CONFIG_DIR, issuesOf, tempDir } from './helpers';
import { defaultHybridConfig } from '../../src/strategies/hybrid-config';

/** The issue's example, every key spelled out: what the seed's config.yaml must become. */
const SEED_EXPECTED: BalancerConfig = {
  server: { host: '127.0.0.1', port: 8080, headersTimeoutMs: 10000, requestTimeoutMs: 120000, blobUploadTimeoutMs: 3600000, keepAliveTimeoutMs: 5000 },
  nodes: [
    {
      id: 'gpu-1',
      url: 'http://10.0.0.5:11434',
      models: ['llama3.2'],
      maxConcurrentRequests: 4,
      weight: 2,
      enabled: true,
      tags: ['gpu'],
      priority: 0,
    },
  ],
  strategy: {
    type: 'predictive',
    performance: { weights: { cpuLoad: 0.3, gpuMemory: 0.2, priority: 0.1, latency: 0.2, failure: 0.2, load: 0.25, gpuUtil: 0 } },
    hybrid: defaultHybridConfig(),
  },
  disruptor: {
    ringBufferSize: 1024,
    waitStrategy: 'blocking',
    maxGlobalInFlight: 1000,
    dispatchPlacement: 'inline',
    validationThreads: 0,
    metricsPlacement: 'inline',
  },
  queue: { maxDepth: 1000, maxWaitMs: 60000, batchPreemptions: 10, fairBurst: 4 },
  timeouts: {
    requestTimeoutMs: 120000,
    connectTimeoutMs: 10000,
    healthCheckTimeoutMs: 5000,
    firstByteTimeoutMs: 60000,
    idleTimeoutMs: 30000,
    routes: { chat: {}, embeddings: {} },
  },
  failover: { adaptive: true, firstByteFactor: 2, firstByteMarginMs: 500, stallFactor: 50, minStallMs: 2000, streamUpstream: true, probeTimeoutMs: 500 },
  retry: { maxRetries: 3, initialBackoffMs: 100, maxBackoffMs: 5000, backoffMultiplier: 2 },
  healthCheck: {
    intervalMs: 30000,
    degradedThreshold: 3,
    downThreshold: 6,
    circuitBreakerFailureThreshold: 5,
    circuitBreakerRecoveryMs: 30000,
    halfOpenRequests: 1,
    discoveryIntervalMs: 30000,
  },
  discovery: { enabled: true },
  leases: { ttlMs: 120000 },
  batch: { dataDir: '.ollama-ring/batch', maxFileBytes: 209715200, retentionMs: 604800000, concurrency: 0 },
  autobatch: {
    enabled: true,
    windowMs: 2,
    maxInputs: 64,
    maxBytes: 262144,
    legacy: false,
    splitAbove: 256,
    minPartSize: 32,
    jobs: { maxJobs: 100, maxDocs: 10000, chunkSize: 64 },
  },
  rateLimit: { global: { rps: 0, burst: 0 }, perClient: { rps: 0, burst: 0 }, perNode: { rps: 0, burst: 0 } },
  state: {
    backend: 'memory',
    redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'ollama-ring:', connectTimeoutMs: 2000, commandTimeoutMs: 500, leaseTtlMs: 15000, replicaId: '' },
  },
  validation: { maxPromptLength: 100000, maxBodyBytes: 33554432, allowedModels: [] },
  metrics: { enabled: true, prefix: 'ollama_lb', listen: '' },
  admin: { listen: '' },
  auth: { apiKeys: [], adminToken: '' },
  logging: { level: 'info', verbose: false },
  estimates: { loadMs: 5000, prefillTokensPerSec: 500, generateTokensPerSec: 30, serviceMs: 5000 },
};

const ZERO_NODE = {
  id: 'local',
  url: 'http://127.0.0.1:11434',
  models: [],
  maxConcurrentRequests: 4,
  weight: 1,
  enabled: true,
  tags: [],
  priority: 0,
};

describe('loading', () => {
  test("the issue's example (config/seed-compatible.yaml) loads unchanged to the expected effective config", () => {
    const file = join(CONFIG_DIR, 'seed-compatible.yaml');
    const loaded = loadConfig(file, { env: {} });
    expect(loaded.config).toStrictEqual(SEED_EXPECTED);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.source).toEqual({ kind: 'file', file, format: 'config', env: [] });
  });

  test('zero config: no file, no env → one local node and the defaults', () => {
    const loaded = loadConfig(undefined, { env: {} });
    expect(loaded.config).toStrictEqual({ ...defaultConfig(), nodes: [ZERO_NODE] });
    expect(loaded.warnings).toEqual([]);
    expect(loaded.source).toEqual({ kind: 'none', env: [] });
  });

  test('config/default.yaml gives exactly the zero-config balancer', () => {
    const loaded = loadConfig(join(CONFIG_DIR, 'default.yaml'), { env: {} });
    expect(loaded.config).toStrictEqual(loadConfig(undefined, { env: {} }).config);
    expect(loaded.warnings).toEqual([]);
  });

  test('config/default.yaml documents every key of the effective config, each with a comment', () => {
    const text = readFileSync(join(CONFIG_DIR, 'default.yaml'), 'utf8');
    const keys = (v: unknown, at = ''): string[] =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v).flatMap(([k, x]) => [`${at}${k}`, ...keys(x, `${at}${k}.`)])
        : Array.isArray(v) && v.length && typeof v[0] === 'object'
          ? keys(v[0], at.replace(/\.$/, '[].'))
          : [];
    const documented = keys(yaml.load(text)).sort();
    const effective = keys({ ...defaultConfig(), nodes: [ZERO_NODE] }).sort();
    expect(documented).toEqual(effective);
    // Each top-level section and each leaf key line carries a comment (on the line or just above).
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (/^\s*[A-Za-z]\w*:\s*\S/.test(line) && !/^\s*-/.test(line)) {
        const commented = line.includes('#') || lines[i - 1]?.trim().startsWith('#');
        if (!commented) throw new Error(`default.yaml:${i + 1} has no comment: ${line.trim()}`);
      }
    });
  });

  test('nodes[].metricsUrl and strategy.performance.weights: given weights override the defaults one by one, from a file or the environment', () => {
    const text =
      'nodes:\n  - url: http://a:11434\n    metricsUrl: http://a:9100/metrics\n  - url: http://b:11434\nstrategy:\n  type: performance\n  performance:\n    weights: { cpuLoad: 0.6, gpuUtil: 0.1 }\n';
    const { config, warnings } = parseConfig(text, 'perf.yaml');
    expect(warnings).toEqual([]);
    expect(config.nodes.map((n) => n.metricsUrl)).toEqual(['http://a:9100/metrics', undefined]);
    expect(config.strategy.performance?.weights).toEqual({ ...defaultConfig().strategy.performance?.weights, cpuLoad: 0.6, gpuUtil: 0.1 });
    const env = loadConfig(undefined, { env: { OLLAMA_RING__STRATEGY__PERFORMANCE__WEIGHTS__GPU_MEMORY: '0.5' } });
    expect(env.config.strategy.performance?.weights.gpuMemory).toBe(0.5);
  });

  test("a weight the strategy does not know (the seed's snake_case spelling) is a warning naming it, not silently used", () => {
    const { config, warnings } = parseConfig('strategy:\n  performance:\n    weights:\n      cpu_load: 0.9\n', 'perf.yaml');
    expect(warnings.join('\n')).toMatch(/perf\.yaml:4: strategy\.performance\.weights\.cpu_load: unknown key/);
    expect(config.strategy.performance?.weights.cpuLoad).toBe(0.3);
  });

  test('an object config (PipelineFactory.create({...})) resolves with defaults and derived ids', () => {
    const { config, source } = resolveConfig({
      server: { port: 9000 },
      nodes: [{ url: 'http://10.0.0.5:11434/' }, 'gpu=10.0.0.6*8', { url: 'http://10.0.0.5:11434', id: 'x' }],
      strategy: 'round-robin',
      rateLimit: { global: { rps: 2.5 } },
    });
    expect(config.server).toEqual({ ...defaultConfig().server, port: 9000 });
    expect(config.strategy.type).toBe('round-robin');
    expect(config.nodes.map((n) => [n.id, n.url, n.maxConcurrentRequests])).toEqual([
      ['10.0.0.5:11434', 'http://10.0.0.5:11434', 4],
      ['gpu', 'http://10.0.0.6:11434', 8],
      ['x', 'http://10.0.0.5:11434', 4],
    ]);
    // rps without burst gets one second's worth
    expect(config.rateLimit.global).toEqual({ rps: 2.5, burst: 3 });
    expect(source).toEqual({ kind: 'object', env: [] });
  });

  test('resolveConfig does not mutate or alias the caller object', () => {
    const input = { nodes: [{ url: 'http://a:1', tags: ['gpu'] }], validation: { allowedModels: ['m'] } };
    const frozen = JSON.parse(JSON.stringify(input)) as typeof input;
    const { config } = resolveConfig(input);
    config.nodes[0].tags.push('changed');
    config.validation.allowedModels.push('changed');
    expect(input).toEqual(frozen);
  });

  test('derived ids stay unique; discoveryIntervalMs follows intervalMs unless set', () => {
    const a = resolveConfig({ nodes: [{ url: 'http://h:1' }, { url: 'http://h:1' }], healthCheck: { intervalMs: 5000 } });
    expect(a.config.nodes.map((n) => n.id)).toEqual(['h:1', 'h:1-2']);
    expect(a.warnings.join('\n')).toMatch(/nodes\[1\]\.url: same URL as nodes\[0\]/);
    expect(a.config.healthCheck.discoveryIntervalMs).toBe(5000);
    const b = resolveConfig({ healthCheck: { intervalMs: 5000, discoveryIntervalMs: 60000 } });
    expect(b.config.healthCheck.discoveryIntervalMs).toBe(60000);
  });

  test('per-model caps are keyed by normalised model name; a cap above the node cap warns', () => {
    const r = resolveConfig({ nodes: [{ url: 'http://h:1', maxConcurrentRequests: 2, maxConcurrentPerModel: { 'LLaMA3.2': 3 } }] });
    expect(r.config.nodes[0].maxConcurrentPerModel).toEqual({ 'llama3.2:latest': 3 });
    expect(r.warnings.join('\n')).toMatch(/maxConcurrentPerModel.*exceeds/);
  });

  test('a file without nodes falls back to the local node, with a warning; `nodes: []` is an empty pool', () => {
    const noNodes = parseConfig('server: { port: 1234 }\n', 'x.yaml');
    expect(noNodes.config.nodes).toEqual([ZERO_NODE]);
    expect(noNodes.warnings.join('\n')).toMatch(/no nodes configured/);
    const empty = parseConfig('nodes: []\n', 'x.yaml');
    expect(empty.config.nodes).toEqual([]);
    expect(empty.warnings.join('\n')).toMatch(/node list is empty/);
  });

  test('an empty file is the defaults; a JSON file loads too', () => {
    expect(parseConfig('', 'empty.yaml').config.server.port).toBe(8080);
    const json = parseConfig('{"server": {"port": 7000}, "nodes": [{"url": "http://a:11434"}]}', 'c.json');
    expect(json.config.server.port).toBe(7000);
  });

  test('unknown keys (top level and nested) are warnings naming the line, not errors', () => {
    const text = ['server:', '  port: 8080', '  colour: blue', 'tracing:', '  enabled: true', 'nodes:', '  - url: http://a:11434', '    flavour: big', ''].join('\n');
    const r = parseConfig(text, 'seed.yaml');
    expect(r.warnings).toEqual([
      'seed.yaml:3: server.colour: unknown key (ignored)',
      'seed.yaml:4: tracing: unknown key (ignored)',
      'seed.yaml:8: nodes[0].flavour: unknown key (ignored)',
    ]);
    expect(r.config.server.port).toBe(8080);
  });

  test('strategy names are passed through unless a check is given', () => {
    expect(resolveConfig({ strategy: { type: 'least_loaded' } }).config.strategy.type).toBe('least_loaded');
    const known = (n: string) => ['predictive', 'round-robin'].includes(n);
    const issues = issuesOf(() => parseConfig('\nstrategy:\n  type: fastest\n', 's.yaml', { strategies: known }));
    expect(issues).toEqual([{ path: 'strategy.type', message: 'unknown strategy "fastest"', file: 's.yaml', line: 3 }]);
    const listed = issuesOf(() => resolveConfig({ strategy: 'x' }, { strategies: ['a', 'b'] }));
    expect(listed[0].message).toBe('unknown strategy "x"; known: a, b');
  });

  test('a missing file is a ConfigError naming it', () => {
    const t = tempDir();
    try {
      const missing = join(t.dir, 'nope.yaml');
      expect(issuesOf(() => loadConfig(missing, { env: {} }))).toEqual([{ path: '', message: 'cannot read (ENOENT)', file: missing }]);
    } finally {
      t.remove();
    }
  });

  test('OLLAMA_RING_CONFIG names the file when no path is given', () => {
    const t = tempDir();
    try {
      const file = t.write('c.yaml', 'server: { port: 4321 }\nnodes: [a:1]\n');
      const r = loadConfig(undefined, { env: { OLLAMA_RING_CONFIG: file } });
      expect(r.config.server.port).toBe(4321);
      expect(r.source.file).toBe(file);
    } finally {
      t.remove();
    }
  });
});
