import type { WaitStrategyKind } from '@ollama-ring/disruptor';
import type { NodeSpec } from '../nodes/node';
import type { TlsFiles } from '../nodes/node-tls';
import type { HybridConfig } from '../strategies/hybrid-config';
import type { PerformanceWeights } from '../strategies/performance';

/** A token bucket's settings; `rps: 0` turns it off. */
export interface BucketConfig {
  rps: number;
  burst: number;
}

/** One client API key, with optional limits of its own. */
export interface ApiKeyConfig {
  key: string;
  name?: string;
  rateLimit?: BucketConfig;
  /** Highest request priority this key may ask for: a higher one (header or body) is lowered to it. */
  maxPriority?: number;
  /** The key's share of the wait queue against other keys at the same class and priority (default 1). */
  weight?: number;
}

/**
 * The effective configuration: every key present, defaults applied. A superset of the Java
 * balancer's `config.yaml`, so a seed file loads unchanged.
 */
/** `failover` in the config: the learned deadlines and what a missed one does. */
export interface FailoverConfig {
  /** false: only the fixed `timeouts` apply, and a miss is an ordinary failure. */
  adaptive: boolean;
  /** The first byte is due at `firstByteFactor` × the expected time plus `firstByteMarginMs` (within `timeouts.firstByteTimeoutMs`). */
  firstByteFactor: number;
  firstByteMarginMs: number;
  /** A stream stalls after `stallFactor` × the learned gap between tokens, never less than `minStallMs` (within `timeouts.idleTimeoutMs`). */
  stallFactor: number;
  minStallMs: number;
  /**
   * Ask nodes for a stream for non-streamed `/api/generate` and `/api/chat` too, and answer the
   * client with the single object Ollama would have sent: the stream's deadlines then apply to them,
   * and one that stalls is retried elsewhere, since nothing has reached the client yet.
   */
  streamUpstream: boolean;
  /** Deadline of the probe sent to a node that missed a deadline; a miss of this one takes it out until it answers again. */
  probeTimeoutMs: number;
}

/** `strategy` in the config: the pool's strategy, and the settings of those that take any. */
export interface StrategyConfig {
  type: string;
  /**
   * The `performance` strategy's term weights (each >= 0; see `PerformanceWeights`). Always present
   * in a loaded config; a config built by hand may leave it out for the defaults.
   */
  performance?: { weights: PerformanceWeights };
  /**
   * The `hybrid` strategy's weights and affinity rules, read whenever `hybrid` is in use (for the
   * pool, by an admin call or for one request). The loader always fills it in; a config built by
   * hand may leave it out for the defaults.
   */
  hybrid?: HybridConfig;
}

/**
 * Timeouts of one route class that differ from the `timeouts.*` of every route; a key left out
 * keeps that value.
 */
export interface RouteTimeouts {
  requestTimeoutMs?: number;
  firstByteTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/**
 * The route classes with timeouts of their own: `chat` is `/api/chat`, `/api/generate`,
 * `/v1/chat/completions` and `/v1/completions`; `embeddings` is `/api/embed`, `/api/embeddings`
 * and `/v1/embeddings`.
 */
export type RouteClass = 'chat' | 'embeddings';

/** The route classes, in the order the config documents them. */
export const ROUTE_CLASSES: readonly RouteClass[] = ['chat', 'embeddings'];

export interface BalancerConfig {
  server: {
    host: string;
    port: number;
    /** Time a client has to send a request's headers, from its first byte. */
    headersTimeoutMs: number;
    /** Time a client has to send a whole request, headers and body; blob uploads have their own. */
    requestTimeoutMs: number;
    /** Time a client has to send a blob upload (`POST /api/blobs/:digest`), and the nodes to take it. */
    blobUploadTimeoutMs: number;
    /** How long an idle keep-alive connection from a client is kept open. */
    keepAliveTimeoutMs: number;
    /** HTTPS on the gateway's listener (absent: plain HTTP); see `ServerTlsConfig`. */
    tls?: ServerTlsConfig;
  };
  nodes: NodeSpec[];
  /**
   * TLS towards `https://` nodes, for every such node: the CA that signs their certificates (in
   * place of the system's) and a client certificate. A node's own `tls` overrides it key by key.
   */
  upstreamTls?: TlsFiles;
  strategy: StrategyConfig;
  disruptor: {
    ringBufferSize: number;
    waitStrategy: WaitStrategyKind;
    /** Cap on requests admitted and not yet finished (queued + in flight). */
    maxGlobalInFlight: number;
    /** Where dispatch handlers run: `inline` on the main thread, or on worker threads. */
    dispatchPlacement: 'inline' | 'workers';
    /** Threads for `dispatchPlacement: workers` (default 2). */
    dispatchThreads?: number;
    /** Threads for the validation work pool (0 = inline). */
    validationThreads: number;
    /** Where the completion/metrics stage runs: `inline` on the main thread, or on a worker thread of its own. */
    metricsPlacement: 'inline' | 'worker';
  };
  /**
   * The wait queue: its depth and wait bounds, how many times one batch line may be cut to free its
   * slot for an interactive request that found none (0: never; see `scheduler/preemption.ts`), and
   * how many requests a client key that fell behind its fair share may go ahead (see `WaitQueue`).
   */
  queue: { maxDepth: number; maxWaitMs: number; batchPreemptions: number; fairBurst: number };
  timeouts: {
    requestTimeoutMs: number;
    connectTimeoutMs: number;
    healthCheckTimeoutMs: number;
    firstByteTimeoutMs: number;
    idleTimeoutMs: number;
    /** Per route class: `requestTimeoutMs`, `firstByteTimeoutMs` and `idleTimeoutMs` for its requests only. */
    routes: Record<RouteClass, RouteTimeouts>;
  };
  /**
   * Learned deadlines: once the pool has served a model, a request's first byte is due when the
   * estimates expect it (load if cold, prefill of its prompt), and a stream's next chunk within a
   * multiple of the node's learned gap between tokens. A miss is retried elsewhere before any byte
   * reached the client, and the node is suspected: out of rotation and probed at once.
   */
  failover: FailoverConfig;
  retry: { maxRetries: number; initialBackoffMs: number; maxBackoffMs: number; backoffMultiplier: number };
  healthCheck: {
    intervalMs: number;
    /** Consecutive failed checks that mark a node DEGRADED. */
    degradedThreshold: number;
    /** Consecutive failed checks that mark a node UNHEALTHY. */
    downThreshold: number;
    circuitBreakerFailureThreshold: number;
    circuitBreakerRecoveryMs: number;
    halfOpenRequests: number;
    /** How often `/api/tags` and `/api/ps` are read; defaults to `intervalMs`. */
    discoveryIntervalMs: number;
  };
  /**
   * Reading each node's `/api/tags` and `/api/ps`. Off: the balancer never calls them and routes by
   * each node's configured `models` alone (a node with none serves any model).
   */
  discovery: { enabled: boolean };
  /**
   * Leases (`pipeline.select`: the application calls the node itself). One not released within
   * `ttlMs` has its slot taken back and is counted (`leases_expired_total`).
   */
  leases: { ttlMs: number };
  /**
   * The batch store and runner (`/v1/files`, `/v1/batches`, and `/api/embed/batch`'s jobs): where uploads, job state and results
   * live on disk, the largest upload taken, how long a finished job and its files are kept, and how
   * many of a job's lines are in the pipeline at once (0: the pool's slot count).
   */
  batch: { dataDir: string; maxFileBytes: number; retentionMs: number; concurrency: number };
  /**
   * Embedding autobatch: concurrent embedding requests that differ in nothing but their input share
   * one upstream `/api/embed` call, a large input is split across the nodes that have the model
   * loaded, and `/api/embed/batch` jobs embed documents in the background (see `AutobatchConfig`).
   */
  autobatch: AutobatchConfig;
  rateLimit: { global: BucketConfig; perClient: BucketConfig; perNode: BucketConfig };
  /**
   * Where the pool's shared state lives: `memory` (this process alone, the default) or `redis`
   * (every gateway replica and embedded `PipelineFactory` naming the same Redis and key prefix
   * shares node slots as leases; see docs/replicas.md).
   */
  state: StateConfig;
  validation: { maxPromptLength: number; maxBodyBytes: number; allowedModels: string[] };
  /** Prometheus metrics; `listen` (`host:port`) serves `/metrics` on a listener of its own instead of the main one. */
  metrics: { enabled: boolean; prefix: string; listen: string };
  /** `listen` (`host:port`) serves `/admin/*` on a listener of its own instead of the main one. */
  admin: { listen: string };
  auth: { apiKeys: ApiKeyConfig[]; adminToken: string };
  logging: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; verbose: boolean };
  /** Priors for the predictive strategy until it has learned a node. */
  estimates: { loadMs: number; prefillTokensPerSec: number; generateTokensPerSec: number; serviceMs: number };
}

/**
 * `server.tls`: the gateway's certificate and key (PEM files, paths relative to the working
 * directory), re-read when they change; with `ca`, clients must present a certificate that it signed.
 */
export interface ServerTlsConfig {
  cert: string;
  key: string;
  /** Client certificates are required, and must be signed by one of these CAs (mTLS). */
  ca?: string;
}

/** `state.*`: the backend of the pool's shared state. */
export interface StateConfig {
  backend: 'memory' | 'redis';
  redis: RedisStateConfig;
}

/** `state.redis.*`: read only with `state.backend: redis`. */
export interface RedisStateConfig {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`); env `OLLAMA_RING_REDIS_URL`. */
  url: string;
  /** Prefix of every key and channel: replicas of one pool share it; another pool takes its own. */
  keyPrefix: string;
  /** How long a connection attempt may take before the replica works on its local share. */
  connectTimeoutMs: number;
  /** How long one command may take before Redis counts as slow (the replica then falls back). */
  commandTimeoutMs: number;
  /** A slot lease not renewed within this is taken back (a replica that died gives its slots back). */
  leaseTtlMs: number;
  /** This replica's name in Redis (empty: host name, process id and a random suffix). */
  replicaId: string;
}

/** `autobatch.*`: embedding coalescing and splitting, and the bounds of the background embedding jobs. */
export interface AutobatchConfig {
  /** Coalesce concurrent embedding requests (the splitting and the jobs work either way). */
  enabled: boolean;
  /** How long the first request of a combined call waits for others (ms; 0: those of the same tick). */
  windowMs: number;
  /** A combined call is sent at once when it holds this many inputs. */
  maxInputs: number;
  /** … or this many bytes of input text. */
  maxBytes: number;
  /** Coalesce the legacy `/api/embeddings` too: its callers then get `/api/embed`'s normalised vector. */
  legacy: boolean;
  /** A call of more inputs than this is split across the nodes that have the model loaded (0: never). */
  splitAbove: number;
  /** No part of a split call has fewer inputs than this. */
  minPartSize: number;
  /**
   * `/api/embed/batch` jobs, which run as durable batch jobs (`batch.*`: their store, concurrency and
   * retention): at most `maxJobs` unfinished at once, `maxDocs` documents each, sent as `/api/embed`
   * calls of `chunkSize` documents.
   */
  jobs: { maxJobs: number; maxDocs: number; chunkSize: number };
}
