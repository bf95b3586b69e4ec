/**
 * Leases: a slot on a node for an application that makes the HTTP call itself (seed 001's
 * `get_instance` / `record_success` / `record_failure`). `pipeline.select` admits one like a
 * request; this file is its holder's side: the promise the caller awaits, the `Lease` it gets, and
 * the one event its release, failure, cancellation or TTL sends to the scheduler.
 */
import type { Route } from '@ollama-ring/protocol';
import { classifyNetworkError } from '@ollama-ring/protocol';
import { type BalancerError, LeaseExpiredError, UpstreamError, ValidationError } from './errors';
import type { ResponseSink } from './response-sink';
import type { GrantedNode, LeaseGrantee } from './scheduler/lease-grantee';
import type { PostEvent } from './scheduler/pool-state';
import type { DispatchOutcome } from './stages/dispatch-types';
import type { Cancel } from './upstream/cancel';
import { statsOf } from './upstream/final-stats';

/** Per-call options of `pipeline.select`. */
export interface LeaseOptions {
  /** Aborting it gives up the wait, or, once granted, takes the lease back (its `signal` aborts). */
  signal?: AbortSignal;
  /** The client's identity for per-client rate limits. */
  clientKey?: string;
  /** This lease's TTL instead of `leases.ttlMs`. */
  ttlMs?: number;
  /** The route the application will call (default `/api/chat`): the wording of a model-not-found error, and the pool view. */
  route?: Route;
}

/**
 * The node a lease holds a slot on: call `url` + a path (e.g. `/api/chat`) with `headers` (the
 * basic-auth header of a node URL with credentials; empty otherwise).
 */
export interface LeasedNode {
  readonly id: string;
  /** Origin and path prefix, without credentials. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** What the application learned of a successful call, beyond its duration. */
export interface LeaseSuccessDetails {
  /** ms to the first byte (a stream's first chunk); default the whole duration, as for a non-streamed answer. */
  ttftMs?: number;
  /** Ollama's final object (the answer of a non-streamed call, a stream's last chunk): its durations teach the estimates load and token speeds. */
  response?: Record<string, unknown>;
}

/** What the application learned of a failed call. */
export interface LeaseFailureDetails {
  /** The node's HTTP status: 4xx (but 429) says nothing bad of the node; 429 and 5xx count against it. */
  status?: number;
  durationMs?: number;
}

/** Where a lease is: holding its slot, released by the application, or taken back by the balancer. */
export type LeaseState = 'held' | 'released' | 'expired' | 'cancelled';

/**
 * A slot on one node, held until `success` or `failure` (exactly one of them counts), or until the
 * balancer takes it back: at its TTL (`state` 'expired'), or when the select's signal aborts or the
 * balancer shuts down ('cancelled'); `signal` then aborts, so the application can stop its call.
 *
 * @example
 * const lease = await pipeline.select('llama3.2', { tags: ['gpu'] });
 * const t0 = Date.now();
 * try {
 *   const res = await request(`${lease.node.url}/api/chat`, { method: 'POST', headers: lease.node.headers, body, signal: lease.signal });
 *   lease.success(Date.now() - t0, { response: (await res.body.json()) as Record<string, unknown> });
 * } catch (e) {
 *   lease.failure(e);
 * }
 */
export class Lease {
  private current: LeaseState = 'held';
  private abort: AbortController | undefined;
  private reason: BalancerError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly grantedAt = Date.now();

  /** @internal Made by `pipeline.select` when the scheduler binds the lease. */
  constructor(
    /** The request id (as `pipeline.cancel` takes it). */
    readonly id: number,
    readonly model: string,
    readonly node: LeasedNode,
    /** ms it waited in the queue for its slot. */
    readonly queueMs: number,
    private readonly ttlMs: number,
    private readonly cancel: Cancel,
    private readonly post: PostEvent,
  ) {
    this.timer = setTimeout(this.onTtl, ttlMs);
    // It takes a slot back for the balancer, which has handles of its own while it runs.
    this.timer.unref();
    cancel.addEventListener('abort', this.onCancel);
  }

  get state(): LeaseState {
    return this.current;
  }

  /** Aborts when the balancer takes the lease back (TTL, cancellation, shutdown), with the reason. */
  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.reason) this.abort.abort(this.reason);
    }
    return this.abort.signal;
  }

  /**
   * The call succeeded in `durationMs`: frees the slot, closes the node's breaker streak and teaches
   * the estimates. False (and nothing done) when the lease had already ended.
   */
  success(durationMs: number, details: LeaseSuccessDetails = {}): boolean {
    checkMs('durationMs', durationMs);
    if (details.ttftMs !== undefined) checkMs('ttftMs', details.ttftMs);
    return this.release({
      kind: 'ok',
      status: 200,
      started: true,
      ttftMs: details.ttftMs ?? durationMs,
      latencyMs: durationMs,
      final: statsOf(details.response),
    });
  }

  /**
   * The call failed: frees the slot and counts against the node as a proxied failure would (a
   * refused connection marks it down at once; a 4xx status, but 429, does not count). False when
   * the lease had already ended.
   */
  failure(error: unknown, details: LeaseFailureDetails = {}): boolean {
    const latencyMs = details.durationMs ?? Date.now() - this.grantedAt;
    checkMs('durationMs', latencyMs);
    const status = details.status ?? (error instanceof UpstreamError && error.upstreamStatus >= 400 ? error.upstreamStatus : undefined);
    if (status !== undefined && (!Number.isInteger(status) || status < 400 || status > 599))
      throw new ValidationError(`status must be an HTTP error status, 400-599 (got ${status})`);
    const message = error instanceof Error ? error.message : String(error);
    if (status !== undefined)
      return this.release({ kind: 'http-error', status, body: error instanceof UpstreamError && error.body ? error.body : message, started: false, latencyMs });
    const upstream = error instanceof UpstreamError ? error : new UpstreamError(this.node.id, 0, `call to node ${this.node.id} failed: ${message}`, { cause: error });
    return this.release({ kind: 'failed', error: upstream, started: true, refused: classifyNetworkError(error).kind === 'refused', latencyMs, ttftMs: 0 });
  }

  private release(outcome: DispatchOutcome): boolean {
    if (!this.end('released')) return false;
    this.post({ type: 'lease-released', requestId: this.id, nodeId: this.node.id, outcome });
    return true;
  }

  private readonly onTtl = (): void => {
    this.timer = undefined;
    if (!this.end('expired', new LeaseExpiredError(this.node.id, this.ttlMs))) return;
    this.post({ type: 'lease-expired', requestId: this.id, nodeId: this.node.id, ttlMs: this.ttlMs });
  };

  private readonly onCancel = (): void => {
    const reason = this.cancel.reason as BalancerError;
    if (!this.end('cancelled', reason)) return;
    this.post({ type: 'lease-released', requestId: this.id, nodeId: this.node.id, outcome: { kind: 'aborted', started: true, latencyMs: Date.now() - this.grantedAt } });
  };

  /** The one end of the lease; false when it has ended already. */
  private end(state: Exclude<LeaseState, 'held'>, reason?: BalancerError): boolean {
    if (this.current !== 'held') return false;
    this.current = state;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.cancel.removeEventListener('abort', this.onCancel);
    if (reason) {
      this.reason = reason;
      this.abort?.abort(reason);
    }
    return true;
  }
}

function checkMs(name: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new ValidationError(`${name} must be a number of ms >= 0 (got ${String(ms)})`);
}

/**
 * The waiting side of `pipeline.select`: the request's sink until it is bound (an end before that,
 * a queue timeout, no node, an abort, rejects the select), and the scheduler's grantee when it is.
 */
export class LeaseRequest implements ResponseSink, LeaseGrantee {
  private lease: Lease | undefined;

  constructor(
    private readonly id: number,
    private readonly ttlMs: number,
    private readonly post: PostEvent,
    private readonly resolve: (lease: Lease) => void,
    private readonly reject: (error: BalancerError) => void,
  ) {}

  granted(node: GrantedNode, model: string, cancel: Cancel, queueMs: number): void {
    const { origin, basePath, headers } = node.address;
    this.lease = new Lease(this.id, model, Object.freeze({ id: node.id, url: origin + basePath, headers }), queueMs, this.ttlMs, cancel, this.post);
    this.resolve(this.lease);
  }

  onStart(): void {
    // A lease is never dispatched: the application makes the call.
  }

  onChunk(): void {
    // As onStart.
  }

  onEnd(): void {
    // The release already told the application all there is.
  }

  onError(error: BalancerError): void {
    // Granted, the lease learns of its end itself (its TTL, its cancel); before, the select fails.
    if (!this.lease) this.reject(error);
  }
}
