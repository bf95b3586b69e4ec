/**
 * One generation, from scheduling to the done chunk. After the runner and a slot are held, the
 * prompt is "evaluated" (a prefill delay), then one token is produced every 1/tokensPerSec seconds on
 * the shared ticker. Token k is due at prefillEnd + k × gap, where prefillEnd is when prefill was due
 * to end, computed from the start rather than the previous token, so a late wake-up never
 * accumulates into drift. The sink turns events into bytes
 * (native NDJSON, OpenAI SSE, or one JSON object).
 */
import type { ResolvedModel } from './config';
import type { NodeContext } from './context';
import { SimCancelledError, SimHttpError } from './errors';
import type { StreamFaults } from './faults';
import { runnerOptions, type Runner } from './runner';
import type { NativeToolCall, OutputPlan, Piece } from './text';
import type { TickTask } from './ticker';

/** Final-chunk metrics in nanoseconds of wall-clock time (zero values are omitted by the writers). */
export interface FinalMetrics {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}

/** Receives a generation's events. The first `piece`/`toolCalls` call is the first byte. */
export interface GenerationSink {
  piece(p: Piece): void;
  toolCalls(calls: NativeToolCall[]): void;
  done(metrics: FinalMetrics, reason: 'stop' | 'length'): void;
  /** An error: before the first byte it becomes an HTTP error status, after it an in-band error. */
  error(status: number, message: string): void;
  /** Kill the connection without a word (the closeMidStream fault). */
  destroy(): void;
}

export interface GenerationSpec {
  model: ResolvedModel;
  options: Record<string, unknown> | undefined;
  keepAliveMs: number | undefined;
  promptTokens: number;
  plan: OutputPlan;
  faults: StreamFaults;
  /** Monotonic ms at which the handler started (for total and load durations). */
  t0: number;
  signal: AbortSignal;
}

const ns = (ms: number): number => Math.max(0, Math.round(ms * 1e6));

class TokenStepper implements TickTask {
  tickDue = 0;
  tickIndex = -1;
  private step = 0;
  private prefilled = false;
  private prefillEnd = 0;
  private readonly total: number;
  private readonly stopAt: number;
  private finish!: () => void;
  readonly finished = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  constructor(
    private readonly ctx: NodeContext,
    private readonly spec: GenerationSpec,
    private readonly sink: GenerationSink,
    private readonly gapMs: number,
    private readonly slotStart: number,
    private readonly loadMs: number,
  ) {
    this.total = spec.plan.pieces.length + spec.plan.toolTokens;
    const f = spec.faults;
    // A fault set to fire after more tokens than the answer has fires at the end instead, so a
    // counted fault is never silently used up by a short answer.
    const at = (k: number | undefined): number => (k === undefined ? Infinity : Math.min(k, this.total));
    this.stopAt = Math.min(at(f.errorAfter?.tokens), at(f.closeAfter), at(f.hangAfter));
  }

  start(prefillMs: number): void {
    this.ctx.ticker.schedule(this, this.slotStart + prefillMs);
  }

  cancel(): void {
    this.ctx.ticker.cancel(this);
    this.finish();
  }

  onTick(now: number): void {
    if (!this.prefilled) {
      this.prefilled = true;
      // The schedule runs from when prefill was due to end, not from when this wake-up ran: a timer
      // fires up to a millisecond or more late, and at small time scales (a token every 0.5 ms at
      // 0.02) that lateness, carried into every token, was several per cent of a request. Tokens
      // already due are then emitted in this flush, as a real runner that was never late would have.
      this.prefillEnd = Math.min(now, this.tickDue);
    } else {
      this.step++;
      this.ctx.stats.tokens++;
      const pieces = this.spec.plan.pieces;
      if (this.step <= pieces.length) this.sink.piece(pieces[this.step - 1]);
      if (this.step === this.total && this.spec.plan.toolCalls.length > 0) this.sink.toolCalls(this.spec.plan.toolCalls);
    }
    if (this.step >= this.stopAt) {
      this.injectFault();
      return;
    }
    if (this.step >= this.total) {
      this.sink.done(this.metrics(now), this.spec.plan.doneReason);
      this.ctx.stats.completed++;
      this.finish();
      return;
    }
    this.ctx.ticker.schedule(this, this.prefillEnd + (this.step + 1) * this.gapMs);
  }

  private injectFault(): void {
    const f = this.spec.faults;
    if (f.errorAfter && this.step >= Math.min(f.errorAfter.tokens, this.total)) {
      this.sink.error(500, f.errorAfter.message);
      this.finish();
    } else if (f.closeAfter !== undefined && this.step >= Math.min(f.closeAfter, this.total)) {
      this.sink.destroy();
      this.finish();
    }
    // hangAfter: nothing more is written; the slot stays held until the client or the node goes.
  }

  private metrics(now: number): FinalMetrics {
    return {
      total_duration: ns(now - this.spec.t0),
      load_duration: ns(this.loadMs),
      prompt_eval_count: this.spec.promptTokens,
      prompt_eval_duration: ns(this.prefillEnd - this.slotStart),
      eval_count: this.step,
      eval_duration: ns(now - this.prefillEnd),
    };
  }
}

/** Runs one generation to its end (done, error, fault, or client gone). Never rejects. */
export async function runGeneration(ctx: NodeContext, spec: GenerationSpec, sink: GenerationSink): Promise<void> {
  const { scheduler, ticker } = ctx;
  const opts = runnerOptions(spec.options, ctx.config.defaultNumCtx);
  let runner: Runner | undefined;
  let slot = false;
  try {
    runner = await scheduler.acquire(spec.model, opts, spec.keepAliveMs, spec.signal);
    const loadMs = ticker.now() - spec.t0;
    await runner.slots.acquire(spec.signal);
    slot = true;
    const slotStart = ticker.now();
    const gapMs = scheduler.workMs(1000 / spec.model.tokensPerSec);
    const prefillMs = scheduler.workMs((spec.promptTokens / spec.model.promptTokensPerSec) * 1000);
    const stepper = new TokenStepper(ctx, spec, sink, gapMs, slotStart, loadMs);
    const onAbort = (): void => stepper.cancel();
    if (spec.signal.aborted) return;
    spec.signal.addEventListener('abort', onAbort, { once: true });
    stepper.start(prefillMs);
    await stepper.finished;
    spec.signal.removeEventListener('abort', onAbort);
  } catch (e) {
    if (e instanceof SimCancelledError || spec.signal.aborted) return;
    if (e instanceof SimHttpError) sink.error(e.status, e.message);
    else sink.error(500, (e as Error).message);
  } finally {
    if (runner) {
      if (slot) runner.slots.release();
      scheduler.release(runner);
    }
  }
}

/**
 * Holds a runner and a slot for the prompt's prefill time plus `extraMs` (an embedding call's fixed
 * and per-input costs); returns the load ms.
 */
export async function runPrefill(
  ctx: NodeContext,
  model: ResolvedModel,
  options: Record<string, unknown> | undefined,
  keepAliveMs: number | undefined,
  promptTokens: number,
  t0: number,
  signal: AbortSignal,
  extraMs = 0,
): Promise<{ loadMs: number; prefillMs: number }> {
  const { scheduler, ticker } = ctx;
  const runner = await scheduler.acquire(model, runnerOptions(options, ctx.config.defaultNumCtx), keepAliveMs, signal);
  let slot = false;
  try {
    const loadMs = ticker.now() - t0;
    await runner.slots.acquire(signal);
    slot = true;
    const start = ticker.now();
    await ticker.sleep(scheduler.workMs((promptTokens / model.promptTokensPerSec) * 1000 + extraMs), signal);
    return { loadMs, prefillMs: ticker.now() - start };
  } finally {
    if (slot) runner.slots.release();
    scheduler.release(runner);
  }
}

/** Obtains a runner and lets it go at once: the "load" action of an empty prompt. */
export async function loadOnly(
  ctx: NodeContext,
  model: ResolvedModel,
  options: Record<string, unknown> | undefined,
  keepAliveMs: number | undefined,
  signal: AbortSignal,
): Promise<void> {
  const runner = await ctx.scheduler.acquire(model, runnerOptions(options, ctx.config.defaultNumCtx), keepAliveMs, signal);
  ctx.scheduler.release(runner);
}
