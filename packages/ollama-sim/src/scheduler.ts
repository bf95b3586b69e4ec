/**
 * One node's model scheduler, after Ollama's `server/sched.go` (spec section 8):
 * - a request for a loaded model with the same runner options attaches at once (no queue);
 * - anything else (cold model, or a reload because num_ctx/num_batch/num_gpu/use_mmap differ) joins a
 *   pending queue of at most `maxQueue` entries, or gets 503;
 * - the queue is served one entry at a time, so only one model loads at a time;
 * - at `maxLoadedModels` the least recently used idle runner is evicted (a busy one is drained first);
 * - each runner has `numParallel` FIFO slots; `keep_alive` decides when an idle runner unloads.
 * All simulated durations are multiplied by `timeScale`.
 */
import type { ResolvedModel, ResolvedNode } from './config';
import { FOREVER_MS } from './durations';
import { SimBusyError, SimCancelledError, SimClosedError, SimLoadError } from './errors';
import type { FaultState } from './faults';
import { Runner, runnerOptions, sameOptions, type RunnerOptions } from './runner';
import type { TickScheduler } from './ticker';

/** Timers longer than this overflow setTimeout; such expiries are effectively "never" for a test run. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface PendingEntry {
  model: ResolvedModel;
  options: RunnerOptions;
  keepAliveMs: number | undefined;
  cancelled: boolean;
  resolve(r: Runner): void;
  reject(e: Error): void;
}

/** A point-in-time view of one runner, for `/api/ps` and `/_sim/state`. */
export interface RunnerView {
  model: ResolvedModel;
  state: Runner['state'];
  refCount: number;
  slotsInUse: number;
  slotWaiters: number;
  contextLength: number;
  expiresAtMs: number;
}

export class NodeScheduler {
  private readonly runners = new Map<string, Runner>();
  private readonly pending: PendingEntry[] = [];
  private processing = false;
  private closed = false;
  private readonly shutdown = new AbortController();
  /** Loads started and completed, for `/_sim/state`. */
  loadsStarted = 0;
  evictions = 0;

  constructor(
    private readonly node: ResolvedNode,
    private readonly faults: FaultState,
    private readonly ticker: TickScheduler,
  ) {}

  /** Simulated ms → wall-clock ms for compute work (scaled, and slowed by the `slowdown` fault). */
  workMs(ms: number): number {
    return ms * this.node.timeScale * this.faults.slowdown;
  }

  /** Simulated ms → wall-clock ms for keep-alive expiry (scaled, but "forever" stays forever). */
  private sessionWallMs(ms: number): number {
    return ms >= FOREVER_MS ? FOREVER_MS : ms * this.node.timeScale;
  }

  get queued(): number {
    return this.pending.length;
  }

  get busyLoading(): boolean {
    return this.processing;
  }

  /**
   * Obtains a loaded runner for `model` with `options`, holding a reference until `release`.
   * Rejects with SimBusyError (queue full), SimCancelledError (signal), SimLoadError or SimClosedError.
   */
  async acquire(model: ResolvedModel, options: RunnerOptions, keepAliveMs: number | undefined, signal?: AbortSignal): Promise<Runner> {
    if (this.closed) throw new SimClosedError();
    if (signal?.aborted) throw new SimCancelledError();
    let runner = this.runners.get(model.key);
    if (runner && runner.state !== 'unloading' && sameOptions(runner.options, options)) {
      this.attach(runner, keepAliveMs);
    } else {
      runner = await this.enqueue(model, options, keepAliveMs, signal);
    }
    try {
      await waitOrAbort(runner.loaded, signal);
    } catch (e) {
      this.release(runner);
      throw e;
    }
    return runner;
  }

  /** Drops a reference taken by `acquire`; an idle runner starts its keep-alive countdown. */
  release(r: Runner): void {
    r.refCount--;
    r.lastUsed = this.ticker.now();
    if (r.refCount > 0 || r.state === 'gone' || r.state === 'loading') return;
    if (r.state === 'unloading' || r.sessionMs <= 0) {
      this.unload(r);
      return;
    }
    this.startExpiry(r);
  }

  /** `keep_alive: 0` with an empty prompt: unload now if idle, otherwise when the last request ends. */
  expire(modelKey: string): void {
    const r = this.runners.get(modelKey);
    if (!r) return;
    r.sessionMs = 0;
    if (r.refCount === 0 && r.state === 'ready') this.unload(r);
  }

  /** Loads a model instantly (start-up `preload`). */
  preload(model: ResolvedModel): void {
    const r = new Runner(model, runnerOptions(undefined, this.node.defaultNumCtx), this.node.numParallel, this.node.keepAliveMs, this.ticker.now());
    r.loaded = Promise.resolve();
    r.state = 'ready';
    this.runners.set(model.key, r);
    this.startExpiry(r);
  }

  /** Unloads every idle runner and marks busy ones to unload when they finish (`/_sim/reset`). */
  unloadAll(): void {
    for (const r of [...this.runners.values()]) {
      r.sessionMs = 0;
      if (r.refCount === 0 && r.state === 'ready') this.unload(r);
    }
  }

  /** Every runner on the node, newest expiry first (the order of `/api/ps`). */
  views(): RunnerView[] {
    return [...this.runners.values()]
      .map((r) => ({
        model: r.model,
        state: r.state,
        refCount: r.refCount,
        slotsInUse: r.slots.inUse,
        slotWaiters: r.slots.waiting,
        contextLength: r.options.numCtx,
        expiresAtMs: r.expiresAtMs,
      }))
      .sort((a, b) => b.expiresAtMs - a.expiresAtMs);
  }

  /** Fails all queued work and stops every timer. */
  close(): void {
    this.closed = true;
    this.shutdown.abort(new SimClosedError());
    for (const e of this.pending.splice(0)) e.reject(new SimClosedError());
    for (const r of this.runners.values()) r.finish();
    this.runners.clear();
  }

  private enqueue(model: ResolvedModel, options: RunnerOptions, keepAliveMs: number | undefined, signal?: AbortSignal): Promise<Runner> {
    // The entry the processor is working on has left the queue, as in Go's buffered channel; an idle
    // processor takes a new entry at once, so even maxQueue 0 admits a request when nothing waits.
    const idle = !this.processing && this.pending.length === 0;
    if (!idle && this.pending.length >= this.node.maxQueue) return Promise.reject(new SimBusyError());
    return new Promise<Runner>((resolve, reject) => {
      const onAbort = (): void => {
        entry.cancelled = true;
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
        reject(new SimCancelledError());
      };
      const entry: PendingEntry = {
        model,
        options,
        keepAliveMs,
        cancelled: false,
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.push(entry);
      if (!this.processing) void this.processLoop();
    });
  }

  private async processLoop(): Promise<void> {
    this.processing = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const entry = this.pending.shift() as PendingEntry;
        try {
          await this.serve(entry);
        } catch (e) {
          if (!entry.cancelled) entry.reject(e as Error);
        }
      }
    } finally {
      this.processing = false;
    }
  }

  /** Finds or makes room for the entry's runner; waits for its load before the next entry. */
  private async serve(entry: PendingEntry): Promise<void> {
    for (;;) {
      if (entry.cancelled || this.closed) return;
      const existing = this.runners.get(entry.model.key);
      if (existing && existing.state !== 'unloading' && sameOptions(existing.options, entry.options)) {
        this.attach(existing, entry.keepAliveMs);
        entry.resolve(existing);
        return;
      }
      if (existing) {
        // Same model, other options: the old runner must go before the new one loads.
        await this.evict(existing);
        continue;
      }
      if (this.runners.size >= this.node.maxLoadedModels) {
        await this.evict(this.pickVictim());
        continue;
      }
      const runner = this.startLoad(entry.model, entry.options, entry.keepAliveMs);
      this.attach(runner, entry.keepAliveMs);
      entry.resolve(runner);
      // One load at a time: the next pending entry waits for this load to finish.
      await runner.loaded.catch(() => undefined);
      return;
    }
  }

  /** The least recently used idle runner; when all are busy, the least recently used of all. */
  private pickVictim(): Runner {
    let best: Runner | undefined;
    let bestIdle = false;
    for (const r of this.runners.values()) {
      const idle = r.refCount === 0 && r.state === 'ready';
      if (!best || (idle && !bestIdle) || (idle === bestIdle && r.lastUsed < best.lastUsed)) {
        best = r;
        bestIdle = idle;
      }
    }
    return best as Runner;
  }

  /** Marks a runner to unload, unloads it if idle, and resolves once it is gone. */
  private async evict(r: Runner): Promise<void> {
    if (r.state !== 'unloading' && r.state !== 'gone') this.evictions++;
    if (r.state !== 'gone') {
      r.state = 'unloading';
      r.sessionMs = 0;
      if (r.expiryTimer) clearTimeout(r.expiryTimer);
      r.expiryTimer = undefined;
      if (r.refCount === 0) this.unload(r);
    }
    await r.unloaded;
  }

  private startLoad(model: ResolvedModel, options: RunnerOptions, keepAliveMs: number | undefined): Runner {
    const session = keepAliveMs ?? this.node.keepAliveMs;
    const r = new Runner(model, options, this.node.numParallel, session, this.ticker.now());
    r.expiresAtMs = Date.now() + this.sessionWallMs(session);
    this.runners.set(model.key, r);
    this.loadsStarted++;
    const failure = this.faults.takeLoadFailure();
    r.loaded = this.ticker.sleep(this.workMs(model.loadMs), this.shutdown.signal).then(
      () => {
        if (r.state === 'gone') throw new SimClosedError('model unloaded while loading');
        if (failure !== undefined) {
          this.unload(r);
          throw new SimLoadError(failure);
        }
        r.state = 'ready';
        if (r.refCount === 0) this.release(attachNothing(r));
      },
      (e: unknown) => {
        this.unload(r);
        throw e;
      },
    );
    // Waiters handle the rejection; this keeps an unobserved failed load from crashing the process.
    r.loaded.catch(() => undefined);
    return r;
  }

  private attach(r: Runner, keepAliveMs: number | undefined): void {
    r.refCount++;
    r.lastUsed = this.ticker.now();
    if (r.expiryTimer) clearTimeout(r.expiryTimer);
    r.expiryTimer = undefined;
    if (keepAliveMs !== undefined) {
      r.sessionMs = keepAliveMs;
      r.expiresAtMs = Date.now() + this.sessionWallMs(keepAliveMs);
    }
  }

  private startExpiry(r: Runner): void {
    const wall = this.sessionWallMs(r.sessionMs);
    r.expiresAtMs = Date.now() + wall;
    if (r.expiryTimer) clearTimeout(r.expiryTimer);
    r.expiryTimer = undefined;
    if (wall >= MAX_TIMER_MS) return;
    r.expiryTimer = setTimeout(() => {
      r.expiryTimer = undefined;
      if (r.refCount === 0 && r.state === 'ready') this.unload(r);
    }, wall);
    // An expiry alone must not keep a process (or a test run) alive; close() clears it anyway.
    r.expiryTimer.unref();
  }

  private unload(r: Runner): void {
    if (r.state === 'gone') return;
    if (this.runners.get(r.model.key) === r) this.runners.delete(r.model.key);
    r.finish();
  }
}

/** A load that finished with nobody attached still starts its keep-alive countdown via release. */
function attachNothing(r: Runner): Runner {
  r.refCount++;
  return r;
}

function waitOrAbort(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new SimCancelledError());
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(new SimCancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
