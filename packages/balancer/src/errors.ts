/**
 * The balancer's typed errors. Each has a stable `code`, an HTTP status for the gateway, and the
 * `Symbol.for` brand of the product's base `OllamaRingError`, so `instanceof` works across copies
 * of the package.
 */
import { OllamaRingError } from '@ollama-ring/protocol';
import { redactCredentials } from './nodes/node-url';

/** Base of the errors a request can end with; carries the HTTP status the gateway answers with. */
export class BalancerError extends OllamaRingError {
  static override brand = 'ERR_BALANCER';
  /** HTTP status the gateway sends for this error. */
  readonly status: number;
  /** Seconds a client should wait before retrying, when that is meaningful. */
  readonly retryAfterSec?: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown; retryAfterSec?: number }) {
    super(code, message, options);
    this.status = status;
    this.retryAfterSec = options?.retryAfterSec;
  }
}

/** The ring is full: admission refused at once (HTTP 503 with Retry-After). */
export class BackpressureError extends BalancerError {
  static override brand = 'ERR_BACKPRESSURE';
  constructor(message = 'server busy: request ring is full', retryAfterSec = 1) {
    super(BackpressureError.brand, 503, message, { retryAfterSec });
  }
}

/** The wait queue is at `queue.maxDepth` (HTTP 503 with Retry-After). */
export class QueueFullError extends BalancerError {
  static override brand = 'ERR_QUEUE_FULL';
  constructor(message = 'server busy: wait queue is full', retryAfterSec = 1) {
    super(QueueFullError.brand, 503, message, { retryAfterSec });
  }
}

/** The request waited longer than `queue.maxWaitMs` without a slot (HTTP 504). */
export class QueueTimeoutError extends BalancerError {
  static override brand = 'ERR_QUEUE_TIMEOUT';
  constructor(waitedMs: number) {
    super(QueueTimeoutError.brand, 504, `timed out after ${Math.round(waitedMs)} ms waiting for a free slot`);
  }
}

/** A rate limit (global, per client, per node) was exceeded (HTTP 429 with Retry-After). */
export class RateLimitedError extends BalancerError {
  static override brand = 'ERR_RATE_LIMITED';
  readonly limit: 'global' | 'client' | 'node';
  constructor(limit: 'global' | 'client' | 'node', retryAfterSec: number) {
    super(RateLimitedError.brand, 429, `rate limit exceeded (${limit})`, { retryAfterSec: Math.max(1, Math.ceil(retryAfterSec)) });
    this.limit = limit;
  }
}

/** No node can serve the model now or soon: all down, disabled, or open-circuited (HTTP 503). */
export class NoAvailableNodeError extends BalancerError {
  static override brand = 'ERR_NO_AVAILABLE_NODE';
  constructor(message = 'no available node can serve this request', retryAfterSec = 5) {
    super(NoAvailableNodeError.brand, 503, message, { retryAfterSec });
  }
}

/** No node has the model (and no usable `fallback_model`). Text matches Ollama's (HTTP 404). */
export class ModelNotFoundError extends BalancerError {
  static override brand = 'ERR_MODEL_NOT_FOUND';
  readonly model: string;
  constructor(model: string, message = `model '${model}' not found`) {
    super(ModelNotFoundError.brand, 404, message);
    this.model = model;
  }
}

/** The request is malformed or breaks a limit (HTTP 400, or 413 for an oversized body). */
export class ValidationError extends BalancerError {
  static override brand = 'ERR_VALIDATION';
  constructor(message: string, status = 400) {
    super(ValidationError.brand, status, message);
  }
}

/** An upstream node failed the request; carries the node and its HTTP status (0 for network errors). */
export class UpstreamError extends BalancerError {
  static override brand = 'ERR_UPSTREAM';
  readonly nodeId: string;
  readonly upstreamStatus: number;
  /** The upstream's own error body, passed through unchanged by the gateway where it has one. */
  readonly body?: string;
  /**
   * The node's own error line (Ollama's final `{"error":…}` of a stream that failed after it began)
   * already reached the client as the stream's last chunk: a sink ends the response without
   * writing the error again (see `ResponseSink.onError`).
   */
  readonly inBand: boolean;
  constructor(nodeId: string, upstreamStatus: number, message: string, options?: { cause?: unknown; body?: string; code?: string; status?: number; inBand?: boolean }) {
    super(options?.code ?? UpstreamError.brand, options?.status ?? (upstreamStatus >= 400 ? upstreamStatus : 502), message, options);
    this.nodeId = nodeId;
    this.upstreamStatus = upstreamStatus;
    this.body = options?.body;
    this.inBand = options?.inBand ?? false;
  }
}

/** A timeout of the upstream exchange: connect, first byte, idle between chunks, or total (HTTP 504). */
export class UpstreamTimeoutError extends UpstreamError {
  static override brand = 'ERR_UPSTREAM_TIMEOUT';
  readonly phase: 'connect' | 'first-byte' | 'idle' | 'total';
  constructor(nodeId: string, phase: 'connect' | 'first-byte' | 'idle' | 'total', ms: number) {
    super(nodeId, 0, `upstream ${phase} timeout after ${ms} ms on node ${nodeId}`, {
      code: UpstreamTimeoutError.brand,
      status: 504,
    });
    this.phase = phase;
  }
}

/** The caller aborted the request (its AbortSignal fired, or the client disconnected). */
export class RequestAbortedError extends BalancerError {
  static override brand = 'ERR_ABORTED';
  constructor(reason = 'request aborted by the client') {
    super(RequestAbortedError.brand, 499, reason);
  }
}

/**
 * A batch line's dispatch was cut to free its slot for an interactive request (`queue.batchPreemptions`).
 * Never shown to a caller: the line goes back to the queue and runs again.
 */
export class PreemptedError extends BalancerError {
  static override brand = 'ERR_PREEMPTED';
  constructor(nodeId: string) {
    super(PreemptedError.brand, 503, `batch line cut on node '${nodeId}' to free its slot for an interactive request`);
  }
}

/**
 * A lease (`pipeline.select`) was held past its TTL (`leases.ttlMs`) without `success` or
 * `failure`: the balancer took its slot back (HTTP 504 where it is shown).
 */
export class LeaseExpiredError extends BalancerError {
  static override brand = 'ERR_LEASE_EXPIRED';
  readonly nodeId: string;
  constructor(nodeId: string, ttlMs: number) {
    super(LeaseExpiredError.brand, 504, `lease on node ${nodeId} not released within its TTL of ${ttlMs} ms: its slot was taken back`);
    this.nodeId = nodeId;
  }
}

/**
 * The config file or object is invalid; `issues` name each key (and line, for YAML files). A node
 * URL quoted in the message or an issue has its password masked: these end up on stderr and in logs.
 */
export class ConfigError extends BalancerError {
  static override brand = 'ERR_CONFIG';
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = []) {
    const masked = issues.map((i) => ({ ...i, message: redactCredentials(i.message) }));
    super(ConfigError.brand, 500, redactCredentials(masked.length ? `${message}:\n${masked.map(formatIssue).join('\n')}` : message));
    this.issues = masked;
  }
}

export interface ConfigIssue {
  /** Dotted path of the key, e.g. `nodes[1].url`. */
  path: string;
  message: string;
  file?: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

function formatIssue(i: ConfigIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}` : ''}: ` : i.line ? `line ${i.line}: ` : '';
  return `  ${where}${i.path || '(root)'}: ${i.message}`;
}

/** An admin command named a node that does not exist, or one that already does (HTTP 404 or 409). */
export class InvalidNodeError extends BalancerError {
  static override brand = 'ERR_INVALID_NODE';
  constructor(message: string, status = 404) {
    super(InvalidNodeError.brand, status, message);
  }
}

/**
 * The balancer was used out of order (before `start()`), is installed incompletely (a worker
 * entry not built), or broke one of its own invariants: a bug to report, never a client's fault
 * (HTTP 500).
 */
export class PipelineStateError extends BalancerError {
  static override brand = 'ERR_PIPELINE_STATE';
  constructor(message: string) {
    super(PipelineStateError.brand, 500, message);
  }
}

/**
 * A refusal of the pool as a whole, before any node tried the request (ring, queue or rate limit
 * full): nothing ran, so a caller that can wait (a batch line, a workflow task) offers it again.
 */
export function isPoolRefusal(e: unknown): e is BalancerError {
  return e instanceof BackpressureError || e instanceof QueueFullError || e instanceof RateLimitedError;
}
