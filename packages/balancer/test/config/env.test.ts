import { loadConfig, parseConfig, resolveConfig, type BalancerConfig } from '../../src/config';
import { issuesOf, tempDir } from './helpers';

const FILE = [
  'server: { host: 10.1.1.1, port: 8080 }',
  'nodes:',
  '  - { id: file-node, url: "http://f:11434" }',
  'strategy: { type: round-robin }',
  'healthCheck: { intervalMs: 10000, downThreshold: 6 }',
  'auth: { adminToken: from-file }',
  'logging: { level: warn }',
  '',
].join('\n');

type Env = Record<string, string>;

/** Named variables: each sets one key; the file's other keys stay. */
const NAMED: Array<[string, Env, (c: BalancerConfig) => unknown, unknown]> = [
  ['OLLAMA_RING_PORT', { OLLAMA_RING_PORT: '9090' }, (c) => c.server, expect.objectContaining({ host: '10.1.1.1', port: 9090 })],
  ['OLLAMA_RING_HOST', { OLLAMA_RING_HOST: '0.0.0.0' }, (c) => c.server, expect.objectContaining({ host: '0.0.0.0', port: 8080 })],
  ['OLLAMA_RING_STRATEGY', { OLLAMA_RING_STRATEGY: 'least_loaded' }, (c) => c.strategy.type, 'least_loaded'],
  ['OLLAMA_RING_LOG_LEVEL (case-folded)', { OLLAMA_RING_LOG_LEVEL: 'DEBUG' }, (c) => c.logging.level, 'debug'],
  ['OLLAMA_RING_ADMIN_TOKEN (kept verbatim, even if numeric)', { OLLAMA_RING_ADMIN_TOKEN: '007' }, (c) => c.auth.adminToken, '007'],
  ['OLLAMA_RING_REDIS_URL', { OLLAMA_RING_REDIS_URL: 'redis://cache:6380/2' }, (c) => c.state.redis.url, 'redis://cache:6380/2'],
  ['OLLAMA_RING_STATE_BACKEND', { OLLAMA_RING_STATE_BACKEND: ' Redis ' }, (c) => c.state.backend, 'redis'],
  ['OLLAMA_RING_BATCH_DIR', { OLLAMA_RING_BATCH_DIR: '/var/lib/ollama-ring/batch' }, (c) => c.batch.dataDir, '/var/lib/ollama-ring/batch'],
  [
    'OLLAMA_RING_NODES replaces the node list',
    { OLLAMA_RING_NODES: 'a=http://10.0.0.5:11434*2,10.0.0.6' },
    (c) => c.nodes.map((n) => [n.id, n.maxConcurrentRequests]),
    [
      ['a', 2],
      ['10.0.0.6:11434', 4],
    ],
  ],
  ['an empty variable counts as unset', { OLLAMA_RING_PORT: '', OLLAMA_RING_NODES: ' ' }, (c) => [c.server.port, c.nodes[0].id], [8080, 'file-node']],
];

/** The generic form: OLLAMA_RING__SECTION__KEY, matched ignoring case and underscores. */
const GENERIC: Array<[string, Env, (c: BalancerConfig) => unknown, unknown]> = [
  [
    'UPPER_SNAKE segments',
    { OLLAMA_RING__HEALTH_CHECK__INTERVAL_MS: '5000' },
    (c) => c.healthCheck,
    expect.objectContaining({ intervalMs: 5000, downThreshold: 6, discoveryIntervalMs: 5000 }),
  ],
  ['exact camelCase segments', { OLLAMA_RING__disruptor__ringBufferSize: '4096' }, (c) => c.disruptor.ringBufferSize, 4096],
  ['booleans', { OLLAMA_RING__METRICS__ENABLED: 'false' }, (c) => c.metrics.enabled, false],
  ['floats', { OLLAMA_RING__RETRY__BACKOFF_MULTIPLIER: '1.5' }, (c) => c.retry.backoffMultiplier, 1.5],
  ['flow lists', { OLLAMA_RING__VALIDATION__ALLOWED_MODELS: '[llama3.2, qwen3]' }, (c) => c.validation.allowedModels, ['llama3.2', 'qwen3']],
  ['a flow mapping merges into the section', { OLLAMA_RING__RATE_LIMIT__GLOBAL: '{rps: 10}' }, (c) => c.rateLimit.global, { rps: 10, burst: 10 }],
  ['string keys take the text verbatim', { OLLAMA_RING__METRICS__PREFIX: 'lb2' }, (c) => c.metrics.prefix, 'lb2'],
  [
    'the new sections: a route class’s timeouts as a flow mapping, discovery, leases',
    { OLLAMA_RING__TIMEOUTS__ROUTES__EMBEDDINGS: '{requestTimeoutMs: 60000}', OLLAMA_RING__DISCOVERY__ENABLED: 'false', OLLAMA_RING__LEASES__TTL_MS: '5000' },
    (c) => [c.timeouts.routes, c.discovery, c.leases],
    [{ chat: {}, embeddings: { requestTimeoutMs: 60000 } }, { enabled: false }, { ttlMs: 5000 }],
  ],
  ['named beats generic', { OLLAMA_RING__SERVER__PORT: '1111', OLLAMA_RING_PORT: '2222' }, (c) => c.server.port, 2222],
  [
    "the gateway's client timeouts",
    { OLLAMA_RING__SERVER__REQUEST_TIMEOUT_MS: '30000', OLLAMA_RING__SERVER__BLOB_UPLOAD_TIMEOUT_MS: '7200000', OLLAMA_RING__SERVER__KEEP_ALIVE_TIMEOUT_MS: '65000' },
    (c) => c.server,
    { host: '10.1.1.1', port: 8080, headersTimeoutMs: 10000, requestTimeoutMs: 30000, blobUploadTimeoutMs: 7200000, keepAliveTimeoutMs: 65000 },
  ],
];

/** Seed 001's variables, exactly as its guide exports them, and what each sets. */
const GLEITZEIT: Array<[string, Env, (c: BalancerConfig) => unknown, unknown]> = [
  [
    'GLEITZEIT_OLLAMA_INSTANCES: id:url entries replace the node list',
    { GLEITZEIT_OLLAMA_INSTANCES: 'local:http://localhost:11434,gpu:http://gpu:11434' },
    (c) => c.nodes.map((n) => [n.id, n.url, n.maxConcurrentRequests]),
    [
      ['local', 'http://localhost:11434', 4],
      ['gpu', 'http://gpu:11434', 4],
    ],
  ],
  [
    'GLEITZEIT_OLLAMA_INSTANCES: our entry forms too (bare host:port, id=url*slots)',
    { GLEITZEIT_OLLAMA_INSTANCES: 'gpu:11434, big=http://10.0.0.9:11434*8' },
    (c) => c.nodes.map((n) => [n.id, n.url, n.maxConcurrentRequests]),
    [
      ['gpu:11434', 'http://gpu:11434', 4],
      ['big', 'http://10.0.0.9:11434', 8],
    ],
  ],
  ['GLEITZEIT_OLLAMA_STRATEGY', { GLEITZEIT_OLLAMA_STRATEGY: 'least_loaded' }, (c) => c.strategy.type, 'least_loaded'],
  ['GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL is in seconds', { GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL: '30' }, (c) => c.healthCheck.intervalMs, 30000],
  ['GLEITZEIT_OLLAMA_FAILOVER=false: no retries', { GLEITZEIT_OLLAMA_FAILOVER: 'false' }, (c) => c.retry.maxRetries, 0],
  ['GLEITZEIT_OLLAMA_FAILOVER=true changes nothing', { GLEITZEIT_OLLAMA_FAILOVER: 'TRUE' }, (c) => c.retry.maxRetries, 3],
  [
    'ours win over seed 001’s',
    { GLEITZEIT_OLLAMA_STRATEGY: 'round_robin', OLLAMA_RING_STRATEGY: 'random', GLEITZEIT_OLLAMA_INSTANCES: 'a:http://a:1', OLLAMA_RING_NODES: 'b=http://b:2' },
    (c) => [c.strategy.type, c.nodes.map((n) => n.id)],
    ['random', ['b']],
  ],
  ['the generic form wins too', { GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL: '30', OLLAMA_RING__HEALTH_CHECK__INTERVAL_MS: '2500' }, (c) => c.healthCheck.intervalMs, 2500],
];

describe('seed 001: GLEITZEIT_OLLAMA_* variables configure the pool', () => {
  test.each(GLEITZEIT)('%s', (_n, env, pick, want) => {
    const r = parseConfig(FILE, 'c.yaml', { env });
    expect(pick(r.config)).toEqual(want);
  });

  test('seed 001’s whole example, with no config file, gives the pool it describes', () => {
    const env = {
      GLEITZEIT_OLLAMA_INSTANCES: 'local:http://localhost:11434,gpu:http://gpu:11434',
      GLEITZEIT_OLLAMA_STRATEGY: 'least_loaded',
      GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL: '30',
      GLEITZEIT_OLLAMA_FAILOVER: 'true',
    };
    const r = loadConfig(undefined, { env, strategies: (n) => ['least_loaded', 'predictive'].includes(n) });
    expect(r.config.nodes.map((n) => [n.id, n.url])).toEqual([
      ['local', 'http://localhost:11434'],
      ['gpu', 'http://gpu:11434'],
    ]);
    expect([r.config.strategy.type, r.config.healthCheck.intervalMs, r.config.healthCheck.discoveryIntervalMs, r.config.retry.maxRetries]).toEqual([
      'least_loaded',
      30000,
      30000,
      3,
    ]);
    expect(r.source.env.sort()).toEqual(
      Object.keys(env)
        .filter((k) => k !== 'GLEITZEIT_OLLAMA_FAILOVER')
        .sort(),
    );
  });

  const BAD: Array<[string, Env, { path: string; file: string; message: RegExp }]> = [
    [
      'an interval that is not a number',
      { GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL: 'often' },
      { path: 'healthCheck.intervalMs', file: 'env:GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL', message: /number of seconds > 0 \(got "often"\)/ },
    ],
    ['a failover that is not a boolean', { GLEITZEIT_OLLAMA_FAILOVER: 'sometimes' }, { path: 'retry.maxRetries', file: 'env:GLEITZEIT_OLLAMA_FAILOVER', message: /true or false/ }],
    ['a bad instance entry', { GLEITZEIT_OLLAMA_INSTANCES: 'a:http://a:1,b:ftp://b' }, { path: 'nodes[1]', file: 'env:GLEITZEIT_OLLAMA_INSTANCES', message: /http/ }],
    ['an unknown strategy', { GLEITZEIT_OLLAMA_STRATEGY: 'fastest' }, { path: 'strategy.type', file: 'env:GLEITZEIT_OLLAMA_STRATEGY', message: /unknown strategy "fastest"/ }],
  ];
  test.each(BAD)('errors name the variable: %s', (_n, env, want) => {
    const issues = issuesOf(() => parseConfig(FILE, 'c.yaml', { env, strategies: ['round-robin', 'least_loaded'] }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: want.path, file: want.file });
    expect(issues[0].message).toMatch(want.message);
  });
});

describe('env overrides: defaults < file < env', () => {
  test.each([...NAMED, ...GENERIC])('%s', (_n, env, pick, want) => {
    const r = parseConfig(FILE, 'c.yaml', { env });
    expect(pick(r.config)).toEqual(want);
  });

  test('the file beats the defaults, env beats the file, untouched keys keep their file value', () => {
    const r = parseConfig(FILE, 'c.yaml', { env: { OLLAMA_RING_PORT: '9000' } });
    expect(r.config.server).toMatchObject({ host: '10.1.1.1', port: 9000 }); // file host, env port
    expect(r.config.healthCheck.intervalMs).toBe(10000); // file
    expect(r.config.queue.maxDepth).toBe(1000); // default
    expect(r.source.env).toEqual(['OLLAMA_RING_PORT']);
  });

  test('loadConfig reads process.env by default; parseConfig and resolveConfig do not', () => {
    const saved = process.env.OLLAMA_RING_PORT;
    process.env.OLLAMA_RING_PORT = '7777';
    try {
      expect(loadConfig({ server: { port: 1 } }).config.server.port).toBe(7777);
      expect(resolveConfig({ server: { port: 1 } }).config.server.port).toBe(1);
      expect(parseConfig('server: { port: 1 }').config.server.port).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_RING_PORT;
      else process.env.OLLAMA_RING_PORT = saved;
    }
  });

  test('zero config plus OLLAMA_RING_NODES: the env nodes, not the local one', () => {
    const r = loadConfig(undefined, { env: { OLLAMA_RING_NODES: 'gpu:11434' } });
    expect(r.config.nodes.map((n) => n.url)).toEqual(['http://gpu:11434']);
    expect(r.source).toEqual({ kind: 'none', env: ['OLLAMA_RING_NODES'] });
  });

  test('OLLAMA_RING_NODES also replaces an aliased `instances:` list', () => {
    const t = tempDir();
    try {
      const file = t.write('seed.yaml', 'instances:\n  - url: http://x:1\n    max_concurrent: 0\n');
      // The file's bad slot count is gone with its list, so this loads.
      const r = loadConfig(file, { env: { OLLAMA_RING_NODES: 'y:2' } });
      expect(r.config.nodes.map((n) => n.id)).toEqual(['y:2']);
    } finally {
      t.remove();
    }
  });

  const BAD: Array<[string, Env, { path: string; file: string; message: RegExp }]> = [
    ['a non-numeric port', { OLLAMA_RING_PORT: 'eighty' }, { path: 'server.port', file: 'env:OLLAMA_RING_PORT', message: /must be integer/ }],
    ['a port out of range', { OLLAMA_RING_PORT: '70000' }, { path: 'server.port', file: 'env:OLLAMA_RING_PORT', message: /<= 65535/ }],
    ['an unknown log level', { OLLAMA_RING_LOG_LEVEL: 'loud' }, { path: 'logging.level', file: 'env:OLLAMA_RING_LOG_LEVEL', message: /must be one of/ }],
    ['a bad node entry', { OLLAMA_RING_NODES: 'a:1,b:1*x' }, { path: 'nodes[1]', file: 'env:OLLAMA_RING_NODES', message: /bad slot count/ }],
    [
      'an unknown generic key',
      { OLLAMA_RING__SERVER__PROT: '1' },
      { path: 'SERVER.PROT', file: 'env:OLLAMA_RING__SERVER__PROT', message: /no such config key "PROT" under server/ },
    ],
    ['an unknown generic section', { OLLAMA_RING__TRACING__ON: '1' }, { path: 'TRACING.ON', file: 'env:OLLAMA_RING__TRACING__ON', message: /no such config key "TRACING"/ }],
    [
      'a generic path into the node list',
      { OLLAMA_RING__NODES__0__URL: 'http://a:1' },
      { path: 'NODES.0.URL', file: 'env:OLLAMA_RING__NODES__0__URL', message: /OLLAMA_RING_NODES/ },
    ],
    [
      'a generic value of the wrong type',
      { OLLAMA_RING__QUEUE__MAX_DEPTH: 'lots' },
      { path: 'queue.maxDepth', file: 'env:OLLAMA_RING__QUEUE__MAX_DEPTH', message: /must be integer/ },
    ],
    [
      'a generic value that is not YAML',
      { OLLAMA_RING__QUEUE__MAX_DEPTH: '[1, 2' },
      { path: 'QUEUE.MAX_DEPTH', file: 'env:OLLAMA_RING__QUEUE__MAX_DEPTH', message: /cannot read the value as YAML/ },
    ],
  ];
  test.each(BAD)('errors name the variable: %s', (_n, env, want) => {
    const issues = issuesOf(() => parseConfig(FILE, 'c.yaml', { env }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: want.path, file: want.file });
    expect(issues[0].message).toMatch(want.message);
    expect(issues[0].line).toBeUndefined();
  });
});
