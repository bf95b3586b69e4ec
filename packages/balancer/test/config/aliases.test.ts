import { parseConfig, resolveConfig, type BalancerConfig } from '../../src/config';
import { issuesOf } from './helpers';

type Pick = (c: BalancerConfig) => unknown;

/** Each seed spelling, and what it must become. */
const CASES: Array<[name: string, yamlText: string, pick: Pick, expected: unknown]> = [
  [
    'instances: ≡ nodes:, max_concurrent ≡ maxConcurrentRequests (seed 001)',
    [
      'instances:',
      '  - id: "gpu-server-1"',
      '    url: "http://gpu1:11434"',
      '    models: ["llama3.2:70b", "mixtral:8x7b"]',
      '    max_concurrent: 2',
      '    tags: ["gpu", "high-memory"]',
      '    priority: 1',
      '    weight: 2.0',
    ].join('\n'),
    (c) => c.nodes,
    [
      {
        id: 'gpu-server-1',
        url: 'http://gpu1:11434',
        models: ['llama3.2:70b', 'mixtral:8x7b'],
        maxConcurrentRequests: 2,
        weight: 2,
        enabled: true,
        tags: ['gpu', 'high-memory'],
        priority: 1,
      },
    ],
  ],
  [
    'load_balancing: strategy, health_check_interval (s), retry_attempts, circuit_breaker (seed 001)',
    [
      'load_balancing:',
      '  strategy: "least_loaded"',
      '  health_check_interval: 30',
      '  retry_attempts: 2',
      '  circuit_breaker:',
      '    failure_threshold: 7',
      '    recovery_timeout: 60',
      '    half_open_requests: 3',
    ].join('\n'),
    (c) => [c.strategy.type, c.healthCheck, c.retry.maxRetries],
    [
      'least_loaded',
      {
        intervalMs: 30000,
        degradedThreshold: 3,
        downThreshold: 6,
        circuitBreakerFailureThreshold: 7,
        circuitBreakerRecoveryMs: 60000,
        halfOpenRequests: 3,
        discoveryIntervalMs: 30000,
      },
      2,
    ],
  ],
  ['load_balancing.failover: false → no retries', 'load_balancing: { failover: false }', (c) => c.retry.maxRetries, 0],
  ['load_balancing.failover: true changes nothing', 'load_balancing: { failover: true }', (c) => c.retry.maxRetries, 3],
  ['fractional seconds round to ms', 'load_balancing: { health_check_interval: 0.25 }', (c) => c.healthCheck.intervalMs, 250],
  ['strategy: <name> shorthand', 'strategy: round_robin', (c) => c.strategy.type, 'round_robin'],
  [
    'a bare list of {url, max_concurrent} is a node list (seed 000)',
    '[{"url": "http://localhost:11434", "max_concurrent": 1}, {"url": "http://server3:11434", "max_concurrent": 2}]',
    (c) => c.nodes.map((n) => [n.id, n.url, n.maxConcurrentRequests]),
    [
      ['localhost:11434', 'http://localhost:11434', 1],
      ['server3:11434', 'http://server3:11434', 2],
    ],
  ],
  [
    'the same list still wearing its Python assignment, comments and trailing comma',
    ['# pool', 'SERVERS = [', '  {"url": "http://a:11434", "max_concurrent": 1},  # small box', '  {"url": "http://b:11434", "max_concurrent": 3},', ']'].join('\n'),
    (c) => c.nodes.map((n) => n.maxConcurrentRequests),
    [1, 3],
  ],
  [
    'string node entries: id=url*slots, bare host:port',
    'nodes: ["gpu=http://10.0.0.5:11434*6", "10.0.0.7", "[::1]:11500*2"]',
    (c) => c.nodes.map((n) => [n.id, n.url, n.maxConcurrentRequests]),
    [
      ['gpu', 'http://10.0.0.5:11434', 6],
      ['10.0.0.7:11434', 'http://10.0.0.7:11434', 4],
      ['[::1]:11500', 'http://[::1]:11500', 2],
    ],
  ],
  [
    'a node `specialization` is one more of its tags (seed 001)',
    [
      'instances:',
      '  - id: "gpu-server-1"',
      '    url: "http://gpu1:11434"',
      '    tags: ["gpu", "high-memory"]',
      '    specialization: "large-models"',
      '  - { id: cpu, url: "http://cpu:11434", specialization: small-models }',
      '  - { id: both, url: "http://both:11434", tags: [gpu, large-models], specialization: large-models }',
    ].join('\n'),
    (c) => c.nodes.map((n) => [n.id, n.tags]),
    [
      ['gpu-server-1', ['gpu', 'high-memory', 'large-models']],
      ['cpu', ['small-models']],
      ['both', ['gpu', 'large-models']],
    ],
  ],
  ['check_models: false ≡ discovery.enabled: false (seed 000)', 'check_models: false', (c) => c.discovery, { enabled: false }],
  [
    'chat_timeout and embedding_timeout, in seconds (seed 004)',
    'chat_timeout: 300.0\nembedding_timeout: 60',
    (c) => c.timeouts.routes,
    { chat: { requestTimeoutMs: 300000 }, embeddings: { requestTimeoutMs: 60000 } },
  ],
  ['auth.apiKeys as plain strings', 'auth: { apiKeys: [k1, { key: k2, name: two }] }', (c) => c.auth.apiKeys, [{ key: 'k1' }, { key: 'k2', name: 'two' }]],
  [
    'auth.apiKeys with a weight and a priority cap',
    'auth: { apiKeys: [{ key: k1, weight: 2.5, maxPriority: 0 }] }',
    (c) => c.auth.apiKeys,
    [{ key: 'k1', weight: 2.5, maxPriority: 0 }],
  ],
];

describe('aliases: the seeds’ spellings load', () => {
  test.each(CASES)('%s', (_name, text, pick, expected) => {
    const r = parseConfig(text, 'seed.yaml');
    expect(pick(r.config)).toEqual(expected);
  });

  test('the object form accepts the same aliases', () => {
    const r = resolveConfig({ instances: [{ url: 'http://a:11434', max_concurrent: 9 }], load_balancing: { strategy: 'weighted' } });
    expect(r.config.nodes[0].maxConcurrentRequests).toBe(9);
    expect(r.config.strategy.type).toBe('weighted');
  });

  test('unknown keys inside load_balancing are warnings with their line', () => {
    const r = parseConfig('load_balancing:\n  strategy: random\n  sticky: yes\n', 'seed.yaml');
    expect(r.warnings).toContain('seed.yaml:3: load_balancing.sticky: unknown key (ignored)');
  });

  const CONFLICTS: Array<[string, string, { path: string; line: number }]> = [
    ['nodes and instances', 'nodes: []\ninstances: []\n', { path: 'instances', line: 2 }],
    [
      'maxConcurrentRequests and max_concurrent',
      'nodes:\n  - url: http://a:1\n    maxConcurrentRequests: 2\n    max_concurrent: 3\n',
      { path: 'nodes[0].max_concurrent', line: 4 },
    ],
    ['discovery.enabled and check_models', 'discovery: { enabled: true }\ncheck_models: false\n', { path: 'check_models', line: 2 }],
    ['timeouts.routes.chat.requestTimeoutMs and chat_timeout', 'timeouts:\n  routes:\n    chat: { requestTimeoutMs: 1000 }\nchat_timeout: 2\n', { path: 'chat_timeout', line: 4 }],
    ['strategy.type and load_balancing.strategy', 'strategy: { type: random }\nload_balancing:\n  strategy: random\n', { path: 'load_balancing.strategy', line: 3 }],
  ];
  test.each(CONFLICTS)('an alias given with its canonical key is an error: %s', (_n, text, where) => {
    const issues = issuesOf(() => parseConfig(text, 'c.yaml'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ ...where, file: 'c.yaml' });
  });

  test('a specialization that is not a name is an error naming it, with its line', () => {
    const issues = issuesOf(() => parseConfig('instances:\n  - url: http://a:11434\n    specialization: [big]\n', 'seed.yaml'));
    expect(issues).toEqual([{ path: 'instances[0].specialization', message: 'must be a non-empty string (got ["big"])', file: 'seed.yaml', line: 3 }]);
  });

  test('bad values under the seeds’ top-level keys name the key as written', () => {
    const issues = issuesOf(() => parseConfig('check_models: maybe\nchat_timeout: 0\n', 'seed.yaml'));
    expect(issues).toEqual([
      { path: 'check_models', message: 'must be boolean (got "maybe")', file: 'seed.yaml', line: 1 },
      { path: 'chat_timeout', message: 'must be >= 1 (got 0)', file: 'seed.yaml', line: 2 },
    ]);
  });

  test('errors under an alias name the key as written, with its line', () => {
    const text = ['instances:', '  - url: http://a:11434', '  - url: http://b:11434', '    max_concurrent: 0', 'load_balancing:', '  health_check_interval: soon'].join('\n');
    const issues = issuesOf(() => parseConfig(text, 'seed.yaml'));
    expect(issues).toEqual([
      { path: 'instances[1].max_concurrent', message: 'must be >= 1 (got 0)', file: 'seed.yaml', line: 4 },
      { path: 'load_balancing.health_check_interval', message: 'must be integer (got "soon")', file: 'seed.yaml', line: 6 },
    ]);
  });
});
