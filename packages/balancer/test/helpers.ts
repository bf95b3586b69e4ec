// Shared builders for the unit tests: real PoolNodes, and a Scheduler wired to a fake dispatcher
// whose every dispatch() returns a promise the test settles by hand.
import { ByteArena } from '@ollama-ring/disruptor';
import { defaultConfig } from '../src/config/defaults';
import type { BalancerConfig } from '../src/config/types';
import type { BalancerError } from '../src/errors';
import { RequestAbortedError, UpstreamError } from '../src/errors';
import { Route, normalizeModel } from '@ollama-ring/protocol';
import type { RequestHints } from '../src/inference-request';
import type { RequestClass } from '../src/request-class';
import { type NodeSpec, PoolNode } from '../src/nodes/node';
import { RequestContext, RequestTable } from '../src/request-context';
import type { EndInfo, ResponseSink, StartInfo } from '../src/response-sink';
import { Estimates } from '../src/scheduler/estimates';
import type { RequestEnd, SchedulerObserver } from '../src/scheduler/observer';
import { ControlPlane } from '../src/scheduler/control-plane';
import type { AdmissionLimiter } from '../src/scheduler/pool-state';
import { type PoolView, viewPool } from '../src/scheduler/pool-view';
import { Scheduler } from '../src/scheduler/scheduler';
import type { SchedulerJournal } from '../src/scheduler/scheduler-deps';
import type { DispatchJob, DispatchOutcome, DispatchPort, NodeEndpoint } from '../src/stages/dispatch-types';
import type { FinalChunkStats } from '../src/scheduler/estimates';
import { validateRequest } from '../src/stages/validate-request';
import { compareIds } from '../src/strategies/candidate-order';
import type { Strategy } from '../src/strategies/strategy';
import { StrategyFactory } from '../src/strategies/strategy-factory';

export const BREAKER = { failureThreshold: 3, recoveryMs: 1_000, halfOpenRequests: 1 };

export interface NodeOpts {
  slots?: number;
  perModel?: Record<string, number>;
  models?: string[];
  tags?: string[];
  enabled?: boolean;
  weight?: number;
  priority?: number;
  url?: string;
}

export function nodeSpec(id: string, o: NodeOpts = {}): NodeSpec {
  return {
    id,
    url: o.url ?? `http://${id}:11434`,
    models: o.models ?? [],
    maxConcurrentRequests: o.slots ?? 4,
    maxConcurrentPerModel: o.perModel,
    weight: o.weight ?? 1,
    enabled: o.enabled ?? true,
    tags: o.tags ?? [],
    priority: o.priority ?? 0,
  };
}

export function makeNode(id: string, o: NodeOpts = {}): PoolNode {
  return new PoolNode(nodeSpec(id, o), BREAKER);
}

// ------------------------------------------------------------------ fake dispatch

export interface Call {
  job: DispatchJob;
  settled: boolean;
  /** Settles the dispatch with an outcome. */
  finish(o: DispatchOutcome): void;
  /** Makes dispatch() reject (a dispatcher bug or a thread crash). */
  crash(e: unknown): void;
  /** Calls the sink's onStart, then sends `chunks` through onChunk. */
  stream(...chunks: string[]): void;
  /** Streams `chunks`, then settles ok. */
  ok(chunks?: string[], final?: FinalChunkStats): void;
  httpError(status: number, body?: string): void;
  fail(opts?: { refused?: boolean; error?: UpstreamError }): void;
  aborted(): void;
}

/** A DispatchPort whose dispatches the test settles by hand. */
export class FakeDispatcher implements DispatchPort {
  readonly calls: Call[] = [];
  nodes: NodeEndpoint[] = [];
  setNodesCalls = 0;

  setNodes(nodes: readonly NodeEndpoint[]): void {
    this.nodes = [...nodes];
    this.setNodesCalls++;
  }

  dispatch(job: DispatchJob): Promise<DispatchOutcome> {
    return new Promise<DispatchOutcome>((resolve, reject) => {
      let started = false;
      const call: Call = {
        job,
        settled: false,
        finish: (o) => {
          if (call.settled) throw new Error(`dispatch of request ${job.requestId} settled twice`);
          call.settled = true;
          resolve(o);
        },
        crash: (e) => {
          call.settled = true;
          reject(e);
        },
        stream: (...chunks) => {
          if (!started) {
            started = true;
            job.sink.onStart(200, { 'content-type': 'application/x-ndjson' });
          }
          for (const c of chunks) job.sink.onChunk(Buffer.from(c));
        },
        ok: (chunks = ['{"response":"hi","done":true}\n'], final) => {
          call.stream(...chunks);
          call.finish({ kind: 'ok', status: 200, started: true, ttftMs: 10, latencyMs: 100, final });
        },
        httpError: (status, body = JSON.stringify({ error: `status ${status}` })) => call.finish({ kind: 'http-error', status, body, started: false, latencyMs: 5 }),
        fail: (o = {}) =>
          call.finish({
            kind: 'failed',
            error: o.error ?? new UpstreamError(job.nodeId, 0, o.refused ? 'ECONNREFUSED' : 'socket hang up'),
            started,
            refused: o.refused ?? false,
            latencyMs: 5,
            ttftMs: 0,
          }),
        aborted: () => call.finish({ kind: 'aborted', started, latencyMs: 5 }),
      };
      this.calls.push(call);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Dispatches not yet settled. */
  open(): Call[] {
    return this.calls.filter((c) => !c.settled);
  }

  /** The only unsettled dispatch (fails the test if there is not exactly one). */
  one(): Call {
    const o = this.open();
    if (o.length !== 1) throw new Error(`expected one open dispatch, found ${o.length}`);
    return o[0];
  }

  nodeIds(): string[] {
    return this.calls.map((c) => c.job.nodeId);
  }
}

// ------------------------------------------------------------------ sinks

/** Records everything a request's sink is told. */
export class RecordingSink implements ResponseSink {
  readonly starts: StartInfo[] = [];
  readonly chunks: string[] = [];
  readonly ends: EndInfo[] = [];
  readonly errors: { error: BalancerError; started: boolean }[] = [];
  throwOnEnd = false;
  /** Set by a test to give the sink backpressure. */
  drained?: () => Promise<void>;

  onStart(info: StartInfo): void {
    this.starts.push(info);
  }
  onChunk(chunk: Uint8Array): boolean {
    this.chunks.push(Buffer.from(chunk).toString('utf8'));
    return true;
  }
  onEnd(info: EndInfo): void {
    this.ends.push(info);
    if (this.throwOnEnd) throw new Error('sink exploded');
  }
  onError(error: BalancerError, started: boolean): void {
    this.errors.push({ error, started });
    if (this.throwOnEnd) throw new Error('sink exploded');
  }
  /** How many times the request ended (must be exactly 1 once it is over). */
  get endings(): number {
    return this.ends.length + this.errors.length;
  }
  get error(): BalancerError | undefined {
    return this.errors[0]?.error;
  }
}

// ------------------------------------------------------------------ strategies for tests

/** Picks the free candidate with the lowest id (or, named 'last', the highest); never waits on a busy one. */
export class PickStrategy implements Strategy {
  constructor(readonly name: 'first' | 'last') {}
  select(candidates: readonly PoolNode[], req: { model: string }): PoolNode | null {
    const free = candidates.filter((n) => n.freeSlots(req.model) > 0).sort((a, b) => compareIds(a.id, b.id));
    if (free.length === 0) return null;
    return this.name === 'first' ? free[0] : free[free.length - 1];
  }
}

export function testStrategies(name: string): Strategy {
  if (name === 'first' || name === 'last') return new PickStrategy(name);
  return StrategyFactory.create(name);
}

// ------------------------------------------------------------------ harness

export interface HarnessOpts {
  nodes?: NodeSpec[];
  /** Pool strategy (default 'first'). */
  strategy?: string;
  config?: (c: BalancerConfig) => void;
  limiter?: AdmissionLimiter;
  observer?: SchedulerObserver;
  journal?: SchedulerJournal;
  /** The scheduler's clock (default Date.now, which the fake timers drive). */
  now?: () => number;
}

export interface Submitted {
  ctx: RequestContext;
  sink: RecordingSink;
  /** The body as sent (the arena's copy is freed when the request ends). */
  body: Record<string, unknown>;
}

export interface SubmitOpts {
  route?: Route;
  hints?: RequestHints;
  clientKey?: string;
  sink?: RecordingSink;
  /** Don't validate/schedule yet (the request sits "in the ring"). */
  hold?: boolean;
  /** `batch`: as `CallOptions.requestClass`. */
  requestClass?: RequestClass;
}

export class Harness {
  readonly config: BalancerConfig;
  readonly table = new RequestTable();
  readonly arena = new ByteArena({ capacity: 1 << 16, blockSize: 64 });
  readonly dispatcher = new FakeDispatcher();
  readonly estimates = new Estimates();
  readonly scheduler: Scheduler;
  readonly control: ControlPlane;
  readonly ended: RequestEnd[] = [];
  readonly submitted: Submitted[] = [];

  constructor(o: HarnessOpts = {}) {
    const cfg = defaultConfig();
    cfg.nodes = o.nodes ?? [nodeSpec('a'), nodeSpec('b')];
    cfg.strategy = { type: o.strategy ?? 'first' };
    cfg.retry = { maxRetries: 2, initialBackoffMs: 100, maxBackoffMs: 1_000, backoffMultiplier: 2 };
    cfg.queue = { ...cfg.queue, maxDepth: 100, maxWaitMs: 10_000 };
    cfg.healthCheck.circuitBreakerFailureThreshold = BREAKER.failureThreshold;
    cfg.healthCheck.circuitBreakerRecoveryMs = BREAKER.recoveryMs;
    cfg.healthCheck.halfOpenRequests = BREAKER.halfOpenRequests;
    o.config?.(cfg);
    this.config = cfg;
    const user = o.observer;
    const observer: SchedulerObserver = {
      ...user,
      requestEnded: (e) => {
        this.ended.push(e);
        user?.requestEnded?.(e);
      },
    };
    const control = new ControlPlane((e) => this.scheduler.post(e));
    this.control = control;
    this.scheduler = new Scheduler({
      config: cfg,
      table: this.table,
      arena: this.arena,
      dispatcher: this.dispatcher,
      estimates: this.estimates,
      createStrategy: (name) => control.customStrategy(name) ?? testStrategies(name),
      limiter: o.limiter,
      observer,
      replies: control,
      journal: o.journal,
      now: o.now,
    });
  }

  /** The pool as status routes see it. */
  view(): PoolView {
    return viewPool(this.scheduler);
  }

  /** The shutdown event, applied now (as `PipelineFactory.stop` has the scheduler apply it). */
  shutdown(error: BalancerError): void {
    this.scheduler.apply({ type: 'shutdown-began', command: 0, error });
  }

  /** Posts an abort for every live request (the end of a shutdown grace period). */
  abortAll(error: BalancerError): void {
    for (const ctx of [...this.table.values()]) this.scheduler.post({ type: 'request-aborted', requestId: ctx.id, error });
  }

  node(id: string): PoolNode {
    const n = this.scheduler.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Admits a request as the pipeline front would, and (unless held) hands it to the scheduler validated. */
  submit(body: Record<string, unknown> = {}, o: SubmitOpts = {}): Submitted {
    const route = o.route ?? Route.Generate;
    const full = { model: 'm', prompt: 'hello', ...body };
    const bytes = Buffer.from(JSON.stringify(full));
    this.scheduler.admitOrThrow();
    const off = this.arena.tryAllocCopy(bytes);
    if (off < 0) throw new Error('test arena full');
    const sink = o.sink ?? new RecordingSink();
    const ctx = new RequestContext(this.table.allocateId(), route, off, bytes.length, o.hints ?? {}, o.clientKey, sink, Date.now());
    if (o.requestClass) ctx.requestClass = o.requestClass;
    this.table.add(ctx);
    const s = { ctx, sink, body: full };
    this.submitted.push(s);
    if (!o.hold) this.validate(s);
    return s;
  }

  /** The scheduling stage's pass for a held request. */
  validate(s: Submitted): void {
    const bytes = this.arena.view(s.ctx.bodyOffset, s.ctx.bodyLength);
    const limits = { maxPromptLength: this.config.validation.maxPromptLength, allowedModels: this.config.validation.allowedModels.map(normalizeModel) };
    // As the ring's scheduling stage does: the verdict as an event, then a scheduling pass.
    this.scheduler.post({ type: 'request-validated', requestId: s.ctx.id, verdict: validateRequest(s.ctx.route, bytes, limits) });
    this.scheduler.drain();
  }

  abort(s: Submitted, error: BalancerError = new RequestAbortedError()): void {
    this.scheduler.post({ type: 'request-aborted', requestId: s.ctx.id, error });
  }

  /** The body the dispatcher was given, parsed. */
  static bodyOf(call: Call): Record<string, unknown> {
    return JSON.parse(Buffer.from(call.job.body).toString('utf8')) as Record<string, unknown>;
  }

  /**
   * Asserts the invariants of an idle balancer: every request submitted ended exactly once, nothing
   * is live, queued or in flight, and the arena holds no request body.
   */
  expectIdle(): void {
    const endings = this.submitted.map((s) => s.sink.endings);
    expect(endings).toEqual(this.submitted.map(() => 1));
    expect(this.ended.length).toBe(this.submitted.length);
    expect(new Set(this.ended.map((e) => e.requestId)).size).toBe(this.ended.length);
    expect(this.scheduler.liveCount()).toBe(0);
    expect(this.table.size).toBe(0);
    expect(this.scheduler.queue.size).toBe(0);
    expect(this.scheduler.slots.total()).toBe(0);
    for (const n of this.scheduler.nodes.values()) {
      expect([n.id, n.inFlight, n.inFlightByModel.size]).toEqual([n.id, 0, 0]);
    }
    expect(this.dispatcher.open()).toEqual([]);
    expect(this.arena.stats().liveAllocations).toBe(0);
  }
}

/**
 * Fake timers for scheduler tests. `setImmediate` (how the scheduler drains its control events) stays
 * real: a fake one would be pushed 1 ms into the future whenever it is set from inside a timer, so
 * timings would drift by a millisecond per event round.
 */
export function useFakeClock(now = 1_000_000): void {
  jest.useFakeTimers({ now, doNotFake: ['setImmediate', 'clearImmediate'] });
}

/** Every test of the calling file on a fresh fake clock, with its timers cleared after. */
export function fakeClockForEachTest(): void {
  beforeEach(() => useFakeClock());
  afterEach(() => {
    jest.clearAllTimers();
    jest.useRealTimers();
  });
}

const immediate = () => new Promise<void>((r) => setImmediate(r));

/**
 * Advances the fake clock by `ms`, running due timers, and lets the scheduler apply everything
 * posted meanwhile (dispatch promises settle in microtasks; control events drain in a real
 * setImmediate).
 */
export async function settle(ms = 0): Promise<void> {
  await immediate();
  await jest.advanceTimersByTimeAsync(ms);
  for (let i = 0; i < 3; i++) await immediate();
}
