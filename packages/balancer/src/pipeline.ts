import { ARENA_FULL, type ByteArena, Disruptor, InsufficientCapacityError, type RingBuffer, SameThreadWaitStrategy } from '@ollama-ring/disruptor';
import type { BalancerConfig } from './config/types';
import { Route, normalizeModel, toJson } from '@ollama-ring/protocol';
import { type ControlSchema, controlLayout, type IngressSchema, ingressLayout } from './events';
import { BackpressureError, type BalancerError, RequestAbortedError, ValidationError } from './errors';
import { InferenceRequest, type InferenceResponse, type RequestHints } from './inference-request';
import { type Lease, type LeaseOptions, LeaseRequest } from './lease';
import { collectingSink, streamingSink } from './library-sinks';
import { RequestContext, type RequestTable } from './request-context';
import type { ResponseSink } from './response-sink';
import type { ControlPlane } from './scheduler/control-plane';
import type { SchedulerPort } from './scheduler/pool-state';
import type { PoolView } from './scheduler/pool-view';
import { ControlHandler } from './stages/control';
import { EventInlet } from './stages/event-inlet';
import { SchedulingHandler } from './stages/scheduling';
import { validateRequest } from './stages/validate-request';
import { ValidationHandler, type VerdictHandover } from './stages/validation';
import type { Strategy } from './strategies/strategy';
import type { RequestClass } from './request-class';
import { workerEntry } from './worker-entry';
import type { Context } from '@opentelemetry/api';
import { startRequestTrace } from './tracing/request-trace';

/** Per-call options of `submit`, `stream` and `execute`. */
export interface CallOptions {
  /** Aborting it cancels the request wherever it is: queued, or in flight upstream. */
  signal?: AbortSignal;
  /** The client's identity for per-client rate limits. */
  clientKey?: string;
  /** Routing hints; they override hints given in the body. */
  hints?: RequestHints;
  /** `interactive` (the default) or `batch`: see `RequestClass`. */
  requestClass?: RequestClass;
  /**
   * The W3C trace context the request belongs to (the gateway passes its client's headers): its
   * span is the child of `traceparent`, and the node gets it as the parent. Without one, a
   * registered SDK parents the span on `traceContext`, else on the active context.
   */
  traceparent?: string;
  tracestate?: string;
  traceContext?: Context;
}

/** A request as the gateway has it: raw body bytes for a route. */
export interface RawRequest {
  route: Route;
  body: Uint8Array;
  hints?: RequestHints;
}

/**
 * Wires the engine for the balancer: two rings, each with the scheduler as its last consumer.
 * INGRESS: requests flow validation → scheduling; validation is a work pool (inline, or
 * `validationThreads` worker threads). CONTROL: every other scheduler event (completions, aborts,
 * commands, probe results, timer ticks), through {@link EventInlet}, straight to the scheduler.
 * Both scheduler stages are inline: the scheduler is the single writer of pool state, on one thread.
 */
export class PipelineEngine {
  readonly disruptor: Disruptor<IngressSchema>;
  readonly ring: RingBuffer<IngressSchema>;
  /** The CONTROL ring's engine. */
  readonly control: Disruptor<ControlSchema>;
  /** Where every scheduler event but a request's verdict enters (the CONTROL ring). */
  readonly inlet: EventInlet;

  constructor(cfg: BalancerConfig, arena: ByteArena, table: RequestTable, scheduler: SchedulerPort) {
    const threads = cfg.disruptor.validationThreads;
    this.disruptor = new Disruptor<IngressSchema>({
      layout: ingressLayout,
      size: cfg.disruptor.ringBufferSize,
      producerType: 'single', // only the main thread's front publishes
      // With validation inline the whole ring lives on the main thread: its stages wake each other
      // without the futex. With validation threads, the configured strategy.
      waitStrategy: threads > 0 ? cfg.disruptor.waitStrategy : new SameThreadWaitStrategy(),
    });
    const limits = { maxPromptLength: cfg.validation.maxPromptLength, allowedModels: cfg.validation.allowedModels.map(normalizeModel) };
    const handover: VerdictHandover = new Map();
    const validators =
      threads > 0
        ? Array.from({ length: threads }, (_, i) => ({
            module: workerEntry('stages/validation-worker.js'),
            options: { arena: arena.sab, limits },
            name: `validation-${i + 1}`,
          }))
        : [new ValidationHandler(arena, limits, handover)];
    this.disruptor.handleEventsWithWorkerPool(...validators).then(new SchedulingHandler(arena, table, scheduler, handover));
    this.ring = this.disruptor.ringBuffer;
    this.control = new Disruptor<ControlSchema>({
      layout: controlLayout,
      // The same size as INGRESS: about two events per request in flight, and a full ring drops nothing.
      size: cfg.disruptor.ringBufferSize,
      producerType: 'single', // the main thread: dispatch settlements, timers, probes, commands
      waitStrategy: new SameThreadWaitStrategy(), // and its one consumer is the main thread's scheduler
    });
    this.inlet = new EventInlet(this.control.ringBuffer);
    this.control.handleEventsWith(new ControlHandler(scheduler, this.inlet));
  }

  async start(): Promise<void> {
    await this.control.start();
    await this.disruptor.start();
  }

  /** Drains both rings (within `timeoutMs`, else halts them). */
  async shutdown(timeoutMs: number): Promise<void> {
    await this.disruptor.shutdown(timeoutMs).catch(() => this.disruptor.halt());
    await this.control.shutdown(timeoutMs).catch(() => this.control.halt());
  }

  /** Slots of the INGRESS ring not yet claimed (for the `ringbuffer_remaining` gauge). */
  remaining(): number {
    return this.ring.remainingCapacity();
  }
}

const encoder = new TextEncoder();
/** The longest delay a Node timer takes (a longer one would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The library's entry point for requests.
 *
 * @example
 * const res = await pipeline.submit(InferenceRequest.ofPrompt('llama3.2', 'Why is the sky blue?'));
 * for await (const chunk of pipeline.stream(InferenceRequest.ofChat('llama3.2', messages))) process.stdout.write(chunk.message.content);
 */
export class Pipeline {
  constructor(
    private readonly cfg: () => BalancerConfig,
    private readonly engine: PipelineEngine,
    private readonly arena: ByteArena,
    private readonly table: RequestTable,
    private readonly scheduler: SchedulerPort,
    private readonly control: ControlPlane,
    private readonly view: () => PoolView,
  ) {}

  /** Sends a request and resolves with the whole response (Ollama's `stream: false`). */
  async submit(req: InferenceRequest, opts: CallOptions = {}): Promise<InferenceResponse> {
    const { sink, result } = collectingSink();
    this.execute(this.withStream(req, false), sink, opts);
    return result;
  }

  /**
   * Sends a request and yields each streamed chunk as it arrives. Leaving the loop early aborts the
   * request upstream and frees its slot.
   */
  stream(req: InferenceRequest, opts: CallOptions = {}): AsyncIterableIterator<Record<string, unknown>> {
    const { sink, iterator } = streamingSink();
    const ac = new AbortController();
    const outer = opts.signal;
    const onOuter = () => ac.abort(outer?.reason);
    if (outer) {
      if (outer.aborted) ac.abort(outer.reason);
      else outer.addEventListener('abort', onOuter, { once: true });
    }
    let started = false;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the iterator's methods have their own `this`
    const self = this;
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        if (!started) {
          started = true;
          self.execute(self.withStream(req, true), sink, { ...opts, signal: ac.signal });
        }
        try {
          const r = await iterator.next();
          if (r.done) outer?.removeEventListener('abort', onOuter);
          return r;
        } catch (e) {
          outer?.removeEventListener('abort', onOuter);
          throw e;
        }
      },
      async return() {
        outer?.removeEventListener('abort', onOuter);
        ac.abort(new RequestAbortedError('the caller stopped reading the stream'));
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Low level: admits a request (library object or raw gateway bytes) and delivers its response
   * to `sink`. Throws at once, without touching the sink, when the request cannot be admitted:
   * `BackpressureError` (ring, arena or `maxGlobalInFlight` full) or `ValidationError` (413).
   * Returns the request id.
   */
  execute(req: InferenceRequest | RawRequest, sink: ResponseSink, opts: CallOptions = {}): number {
    const cfg = this.cfg();
    // toJson: a caller's body of any depth becomes bytes; validation then refuses what Ollama would.
    const bytes = req instanceof InferenceRequest ? encoder.encode(toJson(req.body)) : req.body;
    if (bytes.length > cfg.validation.maxBodyBytes) {
      throw new ValidationError(`request body of ${bytes.length} bytes exceeds the limit of ${cfg.validation.maxBodyBytes}`, 413);
    }
    if (opts.signal?.aborted) throw new RequestAbortedError();
    if (opts.requestClass !== undefined && opts.requestClass !== 'interactive' && opts.requestClass !== 'batch') {
      throw new ValidationError(`requestClass must be 'interactive' or 'batch' (got ${JSON.stringify(opts.requestClass)})`);
    }
    this.scheduler.admitOrThrow();
    const off = this.arena.tryAllocCopy(bytes);
    if (off === ARENA_FULL) {
      this.scheduler.unadmit();
      throw new BackpressureError('server busy: request body arena is full');
    }
    const ring = this.engine.ring;
    let seq: number;
    try {
      seq = ring.tryNext();
    } catch (e) {
      this.arena.free(off);
      this.scheduler.unadmit();
      if (e instanceof InsufficientCapacityError) throw new BackpressureError();
      throw e;
    }
    const now = Date.now();
    const id = this.table.allocateId();
    const hints = { ...(req.hints ?? {}), ...(opts.hints ?? {}) };
    const ctx = new RequestContext(id, req.route, off, bytes.length, hints, opts.clientKey, sink, now);
    if (opts.requestClass === 'batch') ctx.requestClass = 'batch';
    const t = startRequestTrace(req.route, opts);
    if (t) ctx.trace = t;
    this.table.add(ctx);
    if (opts.signal) this.watchAbort(ctx, opts.signal);
    const e = ring.get(seq);
    e.requestId = id;
    e.route = req.route;
    e.bodyOffset = off;
    e.bodyLength = bytes.length;
    e.status = 0;
    e.factsOffset = -1;
    e.factsLength = 0;
    ring.publish(seq);
    return id;
  }

  /**
   * A lease: a slot on a node that serves `model` (with `hints`' tags, priority, strategy, fallback
   * model), for an application that makes the HTTP call itself. It is admitted, queued and bound
   * like a request (the node's slots count leases and proxied requests together; it waits when none
   * is free, within `queue.maxWaitMs`), and resolves once bound. Release it with `lease.success` or
   * `lease.failure`: the breaker and the estimates learn from either as from a proxied request. One
   * not released within `leases.ttlMs` (or `opts.ttlMs`) has its slot taken back. Rejects as
   * `execute` throws (`BackpressureError`, `ValidationError`), and as a request ends when no slot
   * comes (`QueueTimeoutError`, `ModelNotFoundError`, `NoAvailableNodeError`, `RequestAbortedError`).
   *
   * @example
   * const lease = await pipeline.select('llama3.2', { tags: ['gpu'] });
   * // … POST `${lease.node.url}/api/chat` with lease.node.headers …
   * lease.success(elapsedMs, { response: ollamaAnswer });
   */
  select(model: string, hints: RequestHints = {}, opts: LeaseOptions = {}): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      const cfg = this.cfg();
      const ttlMs = opts.ttlMs ?? cfg.leases.ttlMs;
      if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TIMER_MS) throw new ValidationError(`ttlMs must be an integer of ms, 1 to ${MAX_TIMER_MS} (got ${ttlMs})`);
      // The body of a lease is its model alone: validation's rules for a model (a name, allowed)
      // apply as to any request, and a fallback model rewrites it as it would a request's.
      const body = encoder.encode(toJson({ model }));
      const verdict = validateRequest(Route.Generate, body, { maxPromptLength: cfg.validation.maxPromptLength, allowedModels: cfg.validation.allowedModels.map(normalizeModel) });
      if ('status' in verdict) throw new ValidationError(verdict.message, verdict.status);
      if (opts.signal?.aborted) throw new RequestAbortedError();
      this.scheduler.admitOrThrow();
      const off = this.arena.tryAllocCopy(body);
      if (off === ARENA_FULL) {
        this.scheduler.unadmit();
        throw new BackpressureError('server busy: request body arena is full');
      }
      const id = this.table.allocateId();
      const holder = new LeaseRequest(id, ttlMs, this.engine.inlet.post.bind(this.engine.inlet), resolve, reject);
      const ctx = new RequestContext(id, opts.route ?? Route.Chat, off, body.length, hints, opts.clientKey, holder, Date.now());
      ctx.lease = holder;
      this.table.add(ctx);
      if (opts.signal) this.watchAbort(ctx, opts.signal);
      this.engine.inlet.post({ type: 'lease-requested', requestId: id, verdict });
    });
  }

  /** Aborting `signal` cancels the request wherever it is; the listener goes when the request ends. */
  private watchAbort(ctx: RequestContext, signal: AbortSignal): void {
    const id = ctx.id;
    const onAbort = () => this.engine.inlet.post({ type: 'request-aborted', requestId: id, error: new RequestAbortedError() });
    signal.addEventListener('abort', onAbort, { once: true });
    ctx.detachAbort = () => signal.removeEventListener('abort', onAbort);
  }

  /**
   * Cancels a request by the id `execute` returned, wherever it is (queued, or in flight upstream,
   * which is aborted and its slot freed); its sink gets `reason`, unless it has already ended, in
   * which case this does nothing. The cheap form of `signal` for callers that hold many requests
   * (the gateway: one per client connection).
   */
  cancel(requestId: number, reason: BalancerError = new RequestAbortedError()): void {
    this.engine.inlet.post({ type: 'request-aborted', requestId, error: reason });
  }

  /**
   * Replaces the pool's strategy, by name or with a strategy object (`StrategyFactory.create(name)`,
   * or one of your own); queued requests use it from the next scheduling pass. Resolves with its
   * name once applied.
   */
  setStrategy(strategy: Strategy | string): Promise<string> {
    return this.control.setStrategy(strategy);
  }

  /** The name of the pool's strategy now. */
  getStrategy(): string {
    return this.view().strategy;
  }

  private withStream(req: InferenceRequest, stream: boolean): InferenceRequest {
    // Embeddings have no stream flag in Ollama; the generation routes get the caller's choice.
    if (req.route !== Route.Generate && req.route !== Route.Chat && req.route !== Route.OpenAIChat && req.route !== Route.OpenAICompletions) {
      return req;
    }
    return new InferenceRequest(req.route, { ...req.body, stream }, req.hints);
  }
}
