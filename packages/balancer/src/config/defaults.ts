/**
 * The defaults behind every key of the effective config. Values follow the example
 * `config.yaml` (the Java seed's), except where this engine measured better ones (noted inline).
 */
import type { NodeSpec } from '../nodes/node';
import { defaultHybridConfig } from '../strategies/hybrid-config';
import { DEFAULT_PERFORMANCE_WEIGHTS } from '../strategies/performance';
import type { BalancerConfig } from './types';

/**
 * The Ollama port, assumed for a bare `host` in node lists.
 *
 * @example parseNodeEntry('gpu1').url; // 'http://gpu1:11434'
 */
export const OLLAMA_DEFAULT_PORT = 11434;

/**
 * The URL of the zero-config pool's one node: the local Ollama.
 *
 * @example loadConfig(undefined, { env: {} }).config.nodes[0].url === LOCAL_NODE_URL; // true
 */
export const LOCAL_NODE_URL = 'http://127.0.0.1:11434';
/**
 * The id of the zero-config node.
 *
 * @example loadConfig(undefined, { env: {} }).config.nodes[0].id === LOCAL_NODE_ID; // true
 */
export const LOCAL_NODE_ID = 'local';

/**
 * Per-node defaults; `id` and `url` have none (the id is derived from the URL).
 *
 * @example NODE_DEFAULTS.maxConcurrentRequests; // 4
 */
export const NODE_DEFAULTS: Readonly<Omit<NodeSpec, 'id' | 'url' | 'maxConcurrentPerModel' | 'maxLoadedModels' | 'metricsUrl'>> = Object.freeze({
  models: [],
  maxConcurrentRequests: 4,
  weight: 1,
  enabled: true,
  tags: [],
  priority: 0,
});

/**
 * Every key of the effective config at its default, with an empty node list (the zero-config
 * node is added by the loader only when no node list was given at all).
 *
 * @example const cfg = defaultConfig(); cfg.server.port; // 8080
 */
export function defaultConfig(): BalancerConfig {
  return {
    // The client timeouts are Node's own defaults, but for the keep-alive (Node: 5 s, kept) and the
    // blob uploads, whose model files may take many minutes on a slow link.
    server: { host: '127.0.0.1', port: 8080, headersTimeoutMs: 10000, requestTimeoutMs: 120000, blobUploadTimeoutMs: 3600000, keepAliveTimeoutMs: 5000 },
    nodes: [],
    strategy: { type: 'predictive', performance: { weights: { ...DEFAULT_PERFORMANCE_WEIGHTS } }, hybrid: defaultHybridConfig() },
    disruptor: {
      ringBufferSize: 1024,
      // lite-blocking, not the seed's yielding: on 2 shared cores a spinning waiter steals the
      // other core, and lite-blocking is the engine's measured default.
      waitStrategy: 'lite-blocking',
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
      // No class differs from the timeouts above until configured.
      routes: { chat: {}, embeddings: {} },
    },
    // Twice the expected first byte plus half a second: prompt-size estimates are rough (four
    // characters a token) and a busy node's prefill varies, and a miss costs the node its rotation.
    // Stalls: Ollama holds back tokens while it parses a tool call or a thinking block, so a gap of
    // dozens of tokens is normal; 50 gaps and never under 2 s.
    failover: { adaptive: true, firstByteFactor: 2, firstByteMarginMs: 500, stallFactor: 50, minStallMs: 2000, streamUpstream: true, probeTimeoutMs: 500 },
    retry: { maxRetries: 3, initialBackoffMs: 100, maxBackoffMs: 5000, backoffMultiplier: 2.0 },
    healthCheck: {
      intervalMs: 30000,
      degradedThreshold: 3,
      downThreshold: 6,
      circuitBreakerFailureThreshold: 5,
      circuitBreakerRecoveryMs: 30000,
      halfOpenRequests: 1,
      // Placeholder: the loader sets it to the resolved intervalMs unless given.
      discoveryIntervalMs: 30000,
    },
    discovery: { enabled: true },
    // As long as the balancer gives a request it proxies (timeouts.requestTimeoutMs).
    leases: { ttlMs: 120000 },
    // Relative to the working directory; OpenAI's own limit on a batch input file (200 MB); a week.
    batch: { dataDir: '.ollama-ring/batch', maxFileBytes: 209715200, retentionMs: 604800000, concurrency: 0 },
    // See the README's "Embedding autobatch" for the measurement behind these.
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
    rateLimit: {
      global: { rps: 0, burst: 0 },
      perClient: { rps: 0, burst: 0 },
      perNode: { rps: 0, burst: 0 },
    },
    // One process alone needs nothing shared. Timeouts: a local Redis answers in well under a
    // millisecond, so half a second means trouble; a lease renewed every third of its TTL survives
    // two missed renewals.
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
}

/**
 * The node used when no node list is configured anywhere.
 *
 * @example localNode(); // { id: 'local', url: 'http://127.0.0.1:11434', maxConcurrentRequests: 4, … }
 */
export function localNode(): NodeSpec {
  return { id: LOCAL_NODE_ID, url: LOCAL_NODE_URL, ...NODE_DEFAULTS, models: [], tags: [] };
}
