import type { Cancel } from './upstream/cancel';
import type { Route } from '@ollama-ring/protocol';
import type { BalancerError } from './errors';
import type { RequestHints } from './inference-request';
import type { RequestClass } from './request-class';
import type { ResponseSink } from './response-sink';
import type { LeaseGrantee } from './scheduler/lease-grantee';
import type { RequestFacts } from './stages/request-facts';
import type { RoutingRequest } from './strategies/strategy';
import type { RequestTrace } from './tracing/request-trace';

export type RequestState = 'admitted' | 'queued' | 'backoff' | 'dispatching' | 'done';

/**
 * Everything about one request that outlives its pass through the ring: the ring slot is released
 * as soon as the scheduler has read it, and an LLM request lasts seconds to minutes, so its state
 * lives here, keyed by request id, until it ends (exactly once).
 */
export class RequestContext {
  state: RequestState = 'admitted';
  facts?: RequestFacts;
  /** The node it is bound to while dispatching. */
  nodeId?: string;
  retries = 0;
  /** Nodes that failed this request before its first byte; avoided on retry while others exist. */
  readonly excluded = new Set<string>();
  upstreamAbort?: Cancel;
  backoffTimer?: NodeJS.Timeout;
  /** Epoch ms when it entered the wait queue (first time). */
  queuedAt = 0;
  /** ms spent waiting in the queue, summed over retries. */
  queueMs = 0;
  /** True once the first byte reached the sink: no retry from here on. */
  started = false;
  /** Epoch ms of the first byte to the sink (0 before). */
  firstByteAt = 0;
  /** The target was cold when bound (for the adaptive first-byte timeout and cold-load metrics). */
  cold = false;
  /** Bound as one of its node's half-open trial requests: only then does it hold a trial place. */
  trial = false;
  lastError?: BalancerError;
  /** Set while the scheduler has a pending abort for it. */
  abortReason?: BalancerError;
  /**
   * Set when the scheduler cancels its dispatch to move it (its node was found hung before any byte
   * came): the completion that follows retries it elsewhere rather than ending it as aborted.
   */
  rescue?: BalancerError;
  /**
   * Its body was switched to ask the node for a stream (a non-streamed generate or chat, with
   * `failover.streamUpstream`): dispatch assembles the single answer, on every attempt.
   */
  assembled = false;
  /** Its dispatch's first-byte and stall deadlines were learned ones: only their misses make a node suspect. */
  learnedFirstByte = false;
  learnedStall = false;
  /** Epoch ms at which a non-streamed answer is overdue and its node gets probed; Infinity for none. */
  overdueAt = Infinity;
  detachAbort?: () => void;
  /**
   * The model the client asked for (as it named it), once the request was switched to its fallback
   * model (at most once); the response says so.
   */
  fallbackFrom?: string;
  /** Built once after validation, and reused on every re-offer to the strategy. */
  routing?: RoutingRequest;
  /** Set for a lease (`pipeline.select`): bound, it is handed to this holder instead of dispatched. */
  lease?: LeaseGrantee;
  /** `batch`: served only from slots no interactive request is waiting for (see `WaitQueue`, `SlotBinder`). */
  requestClass: RequestClass = 'interactive';
  /** Times its dispatch was cut to free its slot for an interactive request (batch lines only; see `Preemption`). */
  preemptions = 0;
  /** Set while such a cut is pending: the completion that follows sends it back to the queue. */
  preempting = false;
  /** The highest priority its client key may ask for (`auth.apiKeys[].maxPriority`), set at admission. */
  maxPriority = Infinity;
  /** Its span and trace context (`tracing/request-trace.ts`); undefined when it has none (no SDK, no `traceparent`). */
  trace?: RequestTrace;

  constructor(
    readonly id: number,
    readonly route: Route,
    /** Where the body sits in the byte arena (a fallback model rewrites it). */
    public bodyOffset: number,
    public bodyLength: number,
    readonly hints: RequestHints,
    readonly clientKey: string | undefined,
    readonly sink: ResponseSink,
    readonly arrivedAt: number,
  ) {}

  get model(): string {
    return this.facts?.model ?? '';
  }

  /** Priority: explicit hint, else the body's, else 0; never above its key's `maxPriority`. */
  get priority(): number {
    const p = this.hints.priority ?? this.facts?.priority ?? 0;
    return p > this.maxPriority ? this.maxPriority : p;
  }
}

/** Live requests by id. Ids are positive int32s that wrap; a live id is never reused. */
export class RequestTable {
  private readonly live = new Map<number, RequestContext>();
  private next = 1;

  /** Requests holding a slot now (dispatching, or a lease held), by class: a walk of the live requests. */
  runningByClass(): Record<RequestClass, number> {
    const n = { interactive: 0, batch: 0 };
    for (const ctx of this.live.values()) if (ctx.state === 'dispatching') n[ctx.requestClass]++;
    return n;
  }

  allocateId(): number {
    for (;;) {
      const id = this.next;
      this.next = this.next >= 0x7fffffff ? 1 : this.next + 1;
      if (!this.live.has(id)) return id;
    }
  }

  add(ctx: RequestContext): void {
    this.live.set(ctx.id, ctx);
  }

  get(id: number): RequestContext | undefined {
    return this.live.get(id);
  }

  delete(id: number): boolean {
    return this.live.delete(id);
  }

  get size(): number {
    return this.live.size;
  }

  values(): IterableIterator<RequestContext> {
    return this.live.values();
  }
}
