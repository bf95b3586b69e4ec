/** A runner: one loaded (or loading) model on a node, with its slots and keep-alive state. */
import type { ResolvedModel } from './config';
import { FifoSemaphore } from './semaphore';

/** The options that pin a runner: a request that differs in any of them forces a reload. */
export interface RunnerOptions {
  numCtx: number;
  numBatch: number;
  numGpu: number;
  useMmap: boolean | null;
}

export function runnerOptions(options: Record<string, unknown> | undefined, defaultNumCtx: number): RunnerOptions {
  const o = options ?? {};
  const int = (v: unknown, d: number): number => (typeof v === 'number' ? Math.trunc(v) : d);
  return {
    numCtx: int(o.num_ctx, defaultNumCtx),
    numBatch: int(o.num_batch, 512),
    numGpu: int(o.num_gpu, -1),
    useMmap: typeof o.use_mmap === 'boolean' ? o.use_mmap : null,
  };
}

export function sameOptions(a: RunnerOptions, b: RunnerOptions): boolean {
  return a.numCtx === b.numCtx && a.numBatch === b.numBatch && a.numGpu === b.numGpu && a.useMmap === b.useMmap;
}

/** A loaded (or loading) model on a node. */
export class Runner {
  state: 'loading' | 'ready' | 'unloading' | 'gone' = 'loading';
  refCount = 0;
  /** The session duration in simulated ms (FOREVER_MS for forever, 0 to unload when idle). */
  sessionMs: number;
  /** Wall-clock epoch ms at which an idle runner unloads (as `/api/ps` reports it). */
  expiresAtMs = 0;
  /** Monotonic ms of the last attach or release, for LRU eviction. */
  lastUsed: number;
  readonly slots: FifoSemaphore;
  loaded!: Promise<void>;
  readonly unloaded: Promise<void>;
  expiryTimer: NodeJS.Timeout | undefined;
  private markUnloaded!: () => void;

  constructor(
    readonly model: ResolvedModel,
    readonly options: RunnerOptions,
    numParallel: number,
    sessionMs: number,
    now: number,
  ) {
    this.sessionMs = sessionMs;
    this.lastUsed = now;
    // Embedding-only models get one slot, as in Ollama.
    const embeddingOnly = model.capabilities.includes('embedding') && !model.capabilities.includes('completion');
    this.slots = new FifoSemaphore(embeddingOnly ? 1 : numParallel);
    this.unloaded = new Promise<void>((resolve) => {
      this.markUnloaded = resolve;
    });
  }

  /** Called once by the scheduler when the runner leaves the node. */
  finish(): void {
    this.state = 'gone';
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.slots.rejectAll();
    this.markUnloaded();
  }
}
