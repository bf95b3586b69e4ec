import { ConfigError } from '../../src/errors';
import { NODE_SCHEMA, checkSchema, parseConfig, resolveConfig } from '../../src/config';
import { issuesOf } from './helpers';

/** Each bad config, and the one issue it must produce: key as written, message, line. */
const BAD: Array<[name: string, text: string, issue: { path: string; message: string | RegExp; line: number }]> = [
  ['wrong type', 'server:\n  host: 0.0.0.0\n  port: "eighty"\n', { path: 'server.port', message: 'must be integer (got "eighty")', line: 3 }],
  ['port out of range', 'server: { port: 70000 }\n', { path: 'server.port', message: 'must be <= 65535 (got 70000)', line: 1 }],
  [
    'bad URL scheme, flow-style node',
    'nodes:\n  - { id: a, url: http://a:11434 }\n  - { id: b, url: ftp://b:11434 }\n',
    { path: 'nodes[1].url', message: /must be an http:\/\/ or https:\/\/ URL.*ftp:\/\/b:11434/, line: 3 },
  ],
  [
    'not a URL at all, block-style node',
    'nodes:\n  - id: a\n    url: http://a:11434\n  - id: b\n    url: just-a-word\n',
    { path: 'nodes[1].url', message: /must be an http/, line: 5 },
  ],
  ['node without url', 'nodes:\n  - id: a\n    weight: 2\n', { path: 'nodes[0].url', message: 'is required', line: 2 }],
  ['ring size not a power of two', 'disruptor:\n  ringBufferSize: 1000\n', { path: 'disruptor.ringBufferSize', message: 'must be a power of two (got 1000)', line: 2 }],
  [
    'duplicate node ids',
    'nodes:\n  - { id: gpu, url: http://a:11434 }\n  - { id: cpu, url: http://b:11434 }\n  - { id: gpu, url: http://c:11434 }\n',
    { path: 'nodes[2].id', message: 'duplicate node id "gpu" (first at nodes[0])', line: 4 },
  ],
  ['negative slots', 'nodes:\n  - url: http://a:11434\n    maxConcurrentRequests: -2\n', { path: 'nodes[0].maxConcurrentRequests', message: 'must be >= 1 (got -2)', line: 3 }],
  ['negative timeout', 'timeouts:\n  connectTimeoutMs: -5\n', { path: 'timeouts.connectTimeoutMs', message: 'must be >= 1 (got -5)', line: 2 }],
  [
    'a route class’s timeout out of range',
    'timeouts:\n  routes:\n    embeddings:\n      requestTimeoutMs: 0\n',
    { path: 'timeouts.routes.embeddings.requestTimeoutMs', message: 'must be >= 1 (got 0)', line: 4 },
  ],
  ['discovery.enabled not a boolean', 'discovery: { enabled: sometimes }\n', { path: 'discovery.enabled', message: 'must be boolean (got "sometimes")', line: 1 }],
  ['an autobatch window past a second', 'autobatch: { windowMs: 5000 }\n', { path: 'autobatch.windowMs', message: 'must be <= 1000 (got 5000)', line: 1 }],
  ['an empty embedding job chunk', 'autobatch:\n  jobs: { chunkSize: 0 }\n', { path: 'autobatch.jobs.chunkSize', message: 'must be >= 1 (got 0)', line: 2 }],
  ['a lease TTL too long for a timer', 'leases: { ttlMs: 3000000000 }\n', { path: 'leases.ttlMs', message: /must be <= 2147483647/, line: 1 }],
  ['an empty batch data dir', 'batch: { dataDir: "" }\n', { path: 'batch.dataDir', message: /must not be empty/, line: 1 }],
  ['a batch file cap of zero', 'batch: { maxFileBytes: 0 }\n', { path: 'batch.maxFileBytes', message: /must be >= 1/, line: 1 }],
  ['an unknown state backend', 'state: { backend: etcd }\n', { path: 'state.backend', message: /must be one of: memory, redis \(got "etcd"\)/, line: 1 }],
  ['a Redis URL of another scheme', 'state:\n  redis: { url: "http://cache:6379" }\n', { path: 'state.redis.url', message: /must match pattern "\^rediss\?:\/\/"/, line: 2 }],
  ['a lease TTL under a second', 'state:\n  redis: { leaseTtlMs: 200 }\n', { path: 'state.redis.leaseTtlMs', message: 'must be >= 1000 (got 200)', line: 2 }],
  ['negative rate', 'rateLimit:\n  global: { rps: -1 }\n', { path: 'rateLimit.global.rps', message: 'must be >= 0 (got -1)', line: 2 }],
  ['zero weight', 'nodes: [{ url: "http://a:1", weight: 0 }]\n', { path: 'nodes[0].weight', message: 'must be > 0 (got 0)', line: 1 }],
  ['an API key with a zero weight', 'auth:\n  apiKeys:\n    - { key: k1, weight: 0 }\n', { path: 'auth.apiKeys[0].weight', message: 'must be > 0 (got 0)', line: 3 }],
  [
    'an API key whose maxPriority is no number',
    'auth:\n  apiKeys:\n    - { key: k1, maxPriority: top }\n',
    { path: 'auth.apiKeys[0].maxPriority', message: 'must be number (got "top")', line: 3 },
  ],
  [
    'unknown wait strategy',
    'disruptor: { waitStrategy: spinning }\n',
    { path: 'disruptor.waitStrategy', message: /must be one of: blocking, lite-blocking, sleeping, yielding, busy-spin, timeout/, line: 1 },
  ],
  ['section of the wrong type', 'queue: 5\n', { path: 'queue', message: 'must be object (got 5)', line: 1 }],
  ['node id with a slash', 'nodes: [{ id: "a/b", url: "http://a:1" }]\n', { path: 'nodes[0].id', message: /must match pattern/, line: 1 }],
  [
    'cross-field: degradedThreshold above downThreshold',
    'healthCheck:\n  degradedThreshold: 9\n  downThreshold: 6\n',
    { path: 'healthCheck.degradedThreshold', message: 'must be <= healthCheck.downThreshold (6)', line: 2 },
  ],
  ['zero client timeout', 'server:\n  requestTimeoutMs: 0\n', { path: 'server.requestTimeoutMs', message: 'must be >= 1 (got 0)', line: 2 }],
  ['fractional client timeout', 'server: { keepAliveTimeoutMs: 2.5 }\n', { path: 'server.keepAliveTimeoutMs', message: 'must be integer (got 2.5)', line: 1 }],
  [
    'client timeout beyond what a timer takes',
    'server: { blobUploadTimeoutMs: 9999999999 }\n',
    { path: 'server.blobUploadTimeoutMs', message: 'must be <= 2147483647 (got 9999999999)', line: 1 },
  ],
  [
    'cross-field: headersTimeoutMs above requestTimeoutMs',
    'server:\n  requestTimeoutMs: 5000\n  headersTimeoutMs: 10000\n',
    { path: 'server.headersTimeoutMs', message: 'must be <= server.requestTimeoutMs (5000)', line: 3 },
  ],
  [
    'cross-field: blobUploadTimeoutMs below requestTimeoutMs',
    'server:\n  requestTimeoutMs: 600000\n  blobUploadTimeoutMs: 60000\n',
    { path: 'server.blobUploadTimeoutMs', message: 'must be >= server.requestTimeoutMs (600000)', line: 3 },
  ],
  ['bad string node entry', 'nodes:\n  - a:1\n  - "gpu=b:2*many"\n', { path: 'nodes[1]', message: /bad slot count/, line: 3 }],
  ['multi-line value: the key line is reported', 'nodes:\n  - id: a\n    url:\n      ftp://x\n', { path: 'nodes[0].url', message: /must be an http/, line: 3 }],
  [
    'metricsUrl without a scheme',
    'nodes:\n  - url: http://a:11434\n    metricsUrl: a:9100/metrics\n',
    { path: 'nodes[0].metricsUrl', message: 'must be an http:// or https:// URL with a host (got "a:9100/metrics")', line: 3 },
  ],
  [
    'metricsUrl with a password: masked in the message',
    'nodes:\n  - url: http://a:11434\n    metricsUrl: ftp://u:s3cret@a:9100/metrics\n',
    { path: 'nodes[0].metricsUrl', message: 'must be an http:// or https:// URL with a host (got "ftp://u:***@a:9100/metrics")', line: 3 },
  ],
  [
    'negative performance weight',
    'strategy:\n  type: performance\n  performance:\n    weights:\n      cpuLoad: -0.3\n',
    { path: 'strategy.performance.weights.cpuLoad', message: 'must be >= 0 (got -0.3)', line: 5 },
  ],
  [
    'performance weight not a number',
    'strategy: { performance: { weights: { gpuMemory: high } } }\n',
    { path: 'strategy.performance.weights.gpuMemory', message: 'must be number (got "high")', line: 1 },
  ],
];

describe('validation errors name the key and the line', () => {
  test.each(BAD)('%s', (_name, text, want) => {
    const issues = issuesOf(() => parseConfig(text, 'bad.yaml'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: want.path, line: want.line, file: 'bad.yaml' });
    if (typeof want.message === 'string') expect(issues[0].message).toBe(want.message);
    else expect(issues[0].message).toMatch(want.message);
  });

  test('all problems are reported at once, in file order, and the message lists them with file:line', () => {
    const text = ['server:', '  port: -1', 'nodes:', '  - { id: a, url: "http://a:1" }', '  - { id: a, url: "nope" }', 'disruptor:', '  ringBufferSize: 3'].join('\n');
    let err: unknown;
    try {
      parseConfig(text, 'many.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.code).toBe('ERR_CONFIG');
    expect(ce.issues.map((i) => [i.line, i.path])).toEqual([
      [2, 'server.port'],
      [5, 'nodes[1].id'],
      [5, 'nodes[1].url'],
      [7, 'disruptor.ringBufferSize'],
    ]);
    expect(ce.message).toContain('many.yaml:7: disruptor.ringBufferSize: must be a power of two (got 3)');
  });

  test('object configs get the same checks, without lines', () => {
    const issues = issuesOf(() => resolveConfig({ server: { port: 1e6 } }));
    expect(issues).toEqual([{ path: 'server.port', message: 'must be <= 65535 (got 1000000)' }]);
  });

  test('a wrong value nested thousands deep is reported as a problem, not a RangeError (the admin API hands client JSON to the same check)', () => {
    const deep: unknown = JSON.parse(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`);
    expect(() => resolveConfig({ nodes: [{ id: deep, url: 'http://a:1' }] })).toThrow(ConfigError);
    expect(() => resolveConfig({ nodes: [{ id: deep, url: 'http://a:1' }] })).toThrow(/nodes\[0\]\.id\.a\.a\..*: nested more than 64 levels deep/);
  });

  test('checkSchema on raw client JSON (node specs from the admin API) reports a deep wrong value, shortened', () => {
    const deep: unknown = JSON.parse(`${'['.repeat(10_000)}1${']'.repeat(10_000)}`);
    expect(checkSchema({ id: 'b', url: 'http://a:1', tags: deep }, NODE_SCHEMA).map((p) => `${p.segs.join('.')}: ${p.message}`)).toEqual([
      `tags.0: must be string (got ${'['.repeat(57)}...)`,
    ]);
  });

  test('merge keys: the core schema has none, so `<<` is an error at its line, not silently dropped', () => {
    const text = ['base: &b', '  maxConcurrentRequests: 2', 'nodes:', '  - <<: *b', '    url: http://a:1'].join('\n');
    const issues = issuesOf(() => parseConfig(text, 'm.yaml'));
    expect(issues).toEqual([{ path: 'nodes[0]["<<"]', message: expect.stringMatching(/merge keys .* not supported/), file: 'm.yaml', line: 4 }]);
  });

  test('anchors and aliases work; errors inside an aliased value point at the alias', () => {
    const text = ['tagsets:', '  gpu: &gpu [gpu, fast]', 'nodes:', '  - { url: "http://a:1", tags: *gpu }', '  - url: http://b:1', '    tags: *gpu', '    weight: &w -1'].join(
      '\n',
    );
    const issues = issuesOf(() => parseConfig(text, 'a.yaml'));
    expect(issues).toEqual([{ path: 'nodes[1].weight', message: 'must be > 0 (got -1)', file: 'a.yaml', line: 7 }]);
    const ok = parseConfig(text.replace('-1', '2'), 'a.yaml');
    expect(ok.config.nodes.map((n) => n.tags)).toEqual([
      ['gpu', 'fast'],
      ['gpu', 'fast'],
    ]);
  });
});

describe('YAML syntax errors carry the line', () => {
  const SYNTAX: Array<[string, string, number]> = [
    ['bad indentation', 'server:\n  host: a\n port: 1\n', 3],
    ['unclosed flow mapping', 'server: { host: a\nnodes: []\n', 2],
    ['duplicate key', 'server: {}\nqueue: {}\nserver: {}\n', 3],
    ['tab indentation', 'server:\n\thost: a\n', 2],
  ];
  test.each(SYNTAX)('%s', (_n, text, line) => {
    const issues = issuesOf(() => parseConfig(text, 's.yaml'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 's.yaml', line });
  });

  test('the safe core schema: JS-specific tags are refused', () => {
    const issues = issuesOf(() => parseConfig('server: !!js/function "function(){}"\n', 't.yaml'));
    expect(issues[0]).toMatchObject({ line: 1, message: expect.stringMatching(/unknown tag/) });
  });
});

describe('prototype pollution', () => {
  afterEach(() => {
    // If a case did pollute, clean up so the other tests stay meaningful.
    for (const k of ['polluted', 'port', 'admin']) delete (Object.prototype as Record<string, unknown>)[k];
  });

  const CASES: Array<[string, string]> = [
    ['__proto__ at the top', '__proto__: { polluted: yes }\n'],
    ['__proto__ in a section', 'server:\n  __proto__: { polluted: yes }\n'],
    ['__proto__ in a node', 'nodes:\n  - url: http://a:1\n    __proto__: { polluted: yes }\n'],
    ['<< merge of a __proto__ mapping', 'evil: &e { __proto__: { polluted: yes } }\nserver:\n  <<: *e\n  port: 1\n'],
    ['<< merge at the top', 'x: &x\n  __proto__: { polluted: yes, port: 1 }\n<<: *x\n'],
    ['constructor.prototype', 'constructor: { prototype: { polluted: yes } }\n'],
  ];
  test.each(CASES)('%s does not reach Object.prototype', (_n, text) => {
    // A merge is refused (ConfigError); everything else loads with the key dropped. Either way
    // nothing may leak into Object.prototype or the result.
    let server: Record<string, unknown> | undefined;
    try {
      server = parseConfig(text, 'p.yaml').config.server as unknown as Record<string, unknown>;
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    if (server) {
      expect(Object.getPrototypeOf(server)).toBe(Object.prototype);
      expect(server.polluted).toBeUndefined();
    }
  });

  test('an unsafe key is reported as a warning with its line', () => {
    const r = parseConfig('server:\n  __proto__: { polluted: yes }\n', 'p.yaml');
    expect(r.warnings).toContain('p.yaml:2: server.__proto__: unsafe key ignored');
  });

  test('an env value cannot pollute either', () => {
    parseConfig('{}', 'p.yaml', { env: { OLLAMA_RING__SERVER: '{__proto__: {polluted: yes}}' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
