/**
 * The JSON schema of the config *input* (after aliases are mapped, before defaults): every key
 * optional, types and ranges checked. Unknown keys are reported separately so the loader can turn
 * them into warnings: seed files with extra sections must still load.
 */
import Ajv, { type ErrorObject, type SchemaObject } from 'ajv';
import { WAIT_STRATEGY_KINDS } from '@ollama-ring/disruptor';
import { toJson } from '@ollama-ring/protocol';
import type { NodeSpec } from '../nodes/node';
import { redactCredentials } from '../nodes/node-url';
import { fromPointer, type Segment } from './paths';
import { parseListen } from './listen';
import type { HybridConfig } from '../strategies/hybrid-config';
import { PERFORMANCE_WEIGHT_NAMES } from '../strategies/performance';
import type { ApiKeyConfig, BalancerConfig, StrategyConfig } from './types';

/**
 * A node as written in a config: only `url` is required.
 *
 * @example const n: NodeInput = { url: 'http://10.0.0.5:11434', maxConcurrentRequests: 2 };
 */
export interface NodeInput extends Partial<Omit<NodeSpec, 'url'>> {
  url: string;
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

/**
 * The object form of a config (as for `PipelineFactory.create({...})`): any subset of the effective
 * config. Nodes may also be `id=url*slots` strings, and `strategy` a bare name.
 *
 * @example const c: ConfigInput = { nodes: ['gpu=10.0.0.5:11434*4'], strategy: 'least-in-flight' };
 */
export type ConfigInput = DeepPartial<Omit<BalancerConfig, 'nodes' | 'strategy' | 'auth'>> & {
  nodes?: (NodeInput | string)[];
  strategy?: (DeepPartial<Omit<StrategyConfig, 'hybrid'>> & { hybrid?: Partial<HybridConfig> }) | string;
  auth?: { apiKeys?: (ApiKeyConfig | string)[]; adminToken?: string };
};

/**
 * One schema finding, at a path of the (alias-mapped) input.
 *
 * @example checkSchema({ queue: { maxDepth: -1 } })[0]; // { segs: ['queue','maxDepth'], message: 'must be >= 0 (got -1)', unknownKey: false }
 */
export interface SchemaProblem {
  segs: Segment[];
  message: string;
  /** True for a key the schema does not know: a warning, not an error. */
  unknownKey: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (minimum: number, maximum?: number): SchemaObject => (maximum === undefined ? { type: 'integer', minimum } : { type: 'integer', minimum, maximum });
const num = (minimum: number): SchemaObject => ({ type: 'number', minimum });
const positive: SchemaObject = { type: 'number', exclusiveMinimum: 0 };
const str: SchemaObject = { type: 'string' };
const nonEmpty: SchemaObject = { type: 'string', minLength: 1 };
const bool: SchemaObject = { type: 'boolean' };
const strings: SchemaObject = { type: 'array', items: str };
const obj = (properties: Record<string, SchemaObject>, required: string[] = []): SchemaObject => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

const bucket = obj({ rps: num(0), burst: int(0) });
/** The longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const timeout = int(1, MAX_TIMER_MS);
/** One route class's own timeouts (`timeouts.routes.<class>`); each key optional. */
const routeTimeouts = obj({ requestTimeoutMs: timeout, firstByteTimeoutMs: timeout, idleTimeoutMs: timeout });

/**
 * The JSON schema of one node input, also used alone for node-list files.
 *
 * @example checkSchema({ url: 'ftp://x' }, NODE_SCHEMA); // [{ segs: ['url'], message: 'must be an http:// or https:// URL with a host (got "ftp://x")', … }]
 */
export const NODE_SCHEMA: SchemaObject = obj(
  {
    // No whitespace or '/': ids appear in admin URLs (`/admin/nodes/:id`) and metric labels.
    id: { type: 'string', minLength: 1, pattern: '^[^\\s/]+$' },
    url: { type: 'string', httpUrl: true },
    models: strings,
    maxConcurrentRequests: int(1, 100000),
    maxConcurrentPerModel: { type: 'object', additionalProperties: int(1, 100000) },
    maxLoadedModels: int(1, 1000),
    weight: positive,
    enabled: bool,
    tags: strings,
    priority: { type: 'number' },
    metricsUrl: { type: 'string', httpUrl: true },
    tls: obj({ ca: nonEmpty, cert: nonEmpty, key: nonEmpty }),
  },
  ['url'],
);

/** `strategy.hybrid`: types here; the rest (weights not all 0, one effect per rule, priority names) in `compileHybrid`. */
const hybridTarget = obj({ nodes: strings, tags: strings });
// Union types need ajv's own keywords under strict mode; these say what was wrong in plain words.
const stringOrStrings: SchemaObject = { stringOrStrings: true };
const numberOrString: SchemaObject = { numberOrString: true };
/** `host:port`, `[ipv6]:port`, or '' (no listener of its own). */
const listenAddress: SchemaObject = { type: 'string', listenAddress: true };
const HYBRID_SCHEMA: SchemaObject = obj({
  weights: obj({ capacity: num(0), health: num(0), responseTime: num(0), affinity: num(0) }),
  responseTimeScaleMs: positive,
  rules: {
    type: 'array',
    items: obj({
      name: str,
      match: obj({
        model: stringOrStrings,
        priority: numberOrString,
        minPriority: numberOrString,
        maxPriority: numberOrString,
        tags: strings,
        complexity: stringOrStrings,
      }),
      prefer: hybridTarget,
      require: hybridTarget,
      weight: positive,
    }),
  },
});

/**
 * The input schema: every section and key of `BalancerConfig`, all optional, unknown keys flagged.
 *
 * @example checkSchema({ server: { port: 70000 } }, CONFIG_SCHEMA);
 */
export const CONFIG_SCHEMA: SchemaObject = obj({
  server: obj({
    host: nonEmpty,
    port: int(0, 65535),
    headersTimeoutMs: timeout,
    requestTimeoutMs: timeout,
    blobUploadTimeoutMs: timeout,
    keepAliveTimeoutMs: timeout,
    tls: obj({ cert: nonEmpty, key: nonEmpty, ca: nonEmpty }, ['cert', 'key']),
  }),
  nodes: { type: 'array', items: NODE_SCHEMA },
  upstreamTls: obj({ ca: nonEmpty, cert: nonEmpty, key: nonEmpty }),
  strategy: obj({
    type: nonEmpty,
    performance: obj({ weights: obj(Object.fromEntries(PERFORMANCE_WEIGHT_NAMES.map((k) => [k, num(0)]))) }),
    hybrid: HYBRID_SCHEMA,
  }),
  disruptor: obj({
    // Capped at 2^24 slots: beyond that the SAB alone runs to gigabytes.
    ringBufferSize: { type: 'integer', minimum: 2, maximum: 2 ** 24, powerOfTwo: true },
    waitStrategy: { enum: [...WAIT_STRATEGY_KINDS] },
    maxGlobalInFlight: int(1),
    dispatchPlacement: { enum: ['inline', 'workers'] },
    validationThreads: int(0, 256),
    metricsPlacement: { enum: ['inline', 'worker'] },
  }),
  queue: obj({ maxDepth: int(0), maxWaitMs: int(0), batchPreemptions: int(0), fairBurst: num(0) }),
  timeouts: obj({
    requestTimeoutMs: int(1),
    connectTimeoutMs: int(1),
    healthCheckTimeoutMs: int(1),
    firstByteTimeoutMs: int(1),
    idleTimeoutMs: int(1),
    routes: obj({ chat: routeTimeouts, embeddings: routeTimeouts }),
  }),
  failover: obj({
    adaptive: bool,
    firstByteFactor: num(1),
    firstByteMarginMs: int(0),
    stallFactor: num(1),
    minStallMs: int(1),
    streamUpstream: bool,
    probeTimeoutMs: int(1),
  }),
  retry: obj({ maxRetries: int(0, 100), initialBackoffMs: num(0), maxBackoffMs: num(0), backoffMultiplier: num(1) }),
  healthCheck: obj({
    intervalMs: int(1),
    degradedThreshold: int(1),
    downThreshold: int(1),
    circuitBreakerFailureThreshold: int(1),
    circuitBreakerRecoveryMs: int(0),
    halfOpenRequests: int(1),
    discoveryIntervalMs: int(1),
  }),
  discovery: obj({ enabled: bool }),
  leases: obj({ ttlMs: timeout }),
  batch: obj({ dataDir: nonEmpty, maxFileBytes: int(1), retentionMs: int(1), concurrency: int(0, 100000) }),
  autobatch: obj({
    enabled: bool,
    windowMs: int(0, 1000),
    maxInputs: int(1, 4096),
    maxBytes: int(1),
    legacy: bool,
    splitAbove: int(0),
    minPartSize: int(1),
    jobs: obj({ maxJobs: int(1), maxDocs: int(1), chunkSize: int(1, 4096) }),
  }),
  rateLimit: obj({ global: bucket, perClient: bucket, perNode: bucket }),
  state: obj({
    backend: { enum: ['memory', 'redis'] },
    redis: obj({
      url: { type: 'string', pattern: '^rediss?://' },
      keyPrefix: str,
      connectTimeoutMs: timeout,
      commandTimeoutMs: timeout,
      // At least a second: renewals go every third of it, and a GC pause must not cost a lease.
      leaseTtlMs: int(1000, MAX_TIMER_MS),
      replicaId: { type: 'string', pattern: '^[^\\s]*$' },
    }),
  }),
  validation: obj({ maxPromptLength: int(1), maxBodyBytes: int(1), allowedModels: strings }),
  // Prometheus metric-name rules; the exporter appends `_` and the metric name.
  metrics: obj({ enabled: bool, prefix: { type: 'string', pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$' }, listen: listenAddress }),
  admin: obj({ listen: listenAddress }),
  auth: obj({
    apiKeys: {
      type: 'array',
      items: obj({ key: nonEmpty, name: str, rateLimit: bucket, maxPriority: { type: 'number' }, weight: positive }, ['key']),
    },
    adminToken: str,
  }),
  logging: obj({ level: { enum: [...LOG_LEVELS] }, verbose: bool }),
  estimates: obj({ loadMs: num(0), prefillTokensPerSec: positive, generateTokensPerSec: positive, serviceMs: num(0) }),
});

/** True for an absolute http(s) URL with a host. */
export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

let ajv: Ajv | undefined;
const compiled = new Map<SchemaObject, ReturnType<Ajv['compile']>>();

function validatorFor(schema: SchemaObject): ReturnType<Ajv['compile']> {
  if (!ajv) {
    // verbose: errors carry the offending value, so messages can say what was found.
    ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
    ajv.addKeyword({
      keyword: 'powerOfTwo',
      type: 'number',
      schemaType: 'boolean',
      validate: (_on: boolean, data: number) => data > 0 && Number.isInteger(Math.log2(data)),
    });
    ajv.addKeyword({
      keyword: 'httpUrl',
      type: 'string',
      schemaType: 'boolean',
      validate: (_on: boolean, data: string) => isHttpUrl(data),
    });
    ajv.addKeyword({
      keyword: 'listenAddress',
      type: 'string',
      schemaType: 'boolean',
      validate: (_on: boolean, data: string) => data === '' || parseListen(data) !== undefined,
    });
    ajv.addKeyword({
      keyword: 'stringOrStrings',
      schemaType: 'boolean',
      validate: (_on: boolean, data: unknown) => typeof data === 'string' || (Array.isArray(data) && data.every((x) => typeof x === 'string')),
    });
    ajv.addKeyword({
      keyword: 'numberOrString',
      schemaType: 'boolean',
      validate: (_on: boolean, data: unknown) => typeof data === 'string' || (typeof data === 'number' && Number.isFinite(data)),
    });
  }
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/**
 * Checks an alias-mapped input against a schema (the whole config by default). Errors and
 * unknown keys come back together; `unknownKey` tells them apart.
 *
 * @example checkSchema({ server: { port: 70000 } }); // [{ segs: ['server','port'], message: 'must be <= 65535 (got 70000)', … }]
 */
export function checkSchema(input: unknown, schema: SchemaObject = CONFIG_SCHEMA): SchemaProblem[] {
  const validate = validatorFor(schema);
  if (validate(input)) return [];
  return (validate.errors ?? []).map(toProblem);
}

/** A value quoted in a message: short, and a node URL's password masked (messages reach logs and admin answers). */
function shown(v: unknown): string {
  // toJson: the value may be part of an admin request's body, nested past JSON.stringify's reach.
  const s = redactCredentials(toJson(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function toProblem(e: ErrorObject): SchemaProblem {
  const segs = fromPointer(e.instancePath);
  const got = ` (got ${shown(e.data)})`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { segs: [...segs, String(p.additionalProperty)], message: 'unknown key (ignored)', unknownKey: true };
    case 'required':
      return { segs: [...segs, String(p.missingProperty)], message: 'is required', unknownKey: false };
    case 'type':
      return { segs, message: `must be ${String(p.type)}${got}`, unknownKey: false };
    case 'enum':
      return { segs, message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}${got}`, unknownKey: false };
    case 'powerOfTwo':
      return { segs, message: `must be a power of two${got}`, unknownKey: false };
    case 'httpUrl':
      return { segs, message: `must be an http:// or https:// URL with a host${got}`, unknownKey: false };
    case 'listenAddress':
      return { segs, message: `must be host:port (e.g. 127.0.0.1:9464 or [::1]:9464, port 0-65535), or '' for the main listener${got}`, unknownKey: false };
    case 'stringOrStrings':
      return { segs, message: `must be a string or a list of strings${got}`, unknownKey: false };
    case 'numberOrString':
      return { segs, message: `must be a number or a name${got}`, unknownKey: false };
    case 'minLength':
      return { segs, message: 'must not be empty', unknownKey: false };
    default:
      return { segs, message: `${e.message ?? 'is invalid'}${got}`, unknownKey: false };
  }
}
