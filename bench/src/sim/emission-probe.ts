/**
 * Measures token emission inside the sim process: wraps the pool's TickScheduler and records, for
 * every stream, the gap between consecutive token callbacks. This is the sim's own timing accuracy,
 * free of the load generator's and the network's contributions.
 */
import { performance } from 'node:perf_hooks';
import type { TickScheduler, TickTask } from '@ollama-ring/ollama-sim';

interface TaskState {
  ticks: number;
  last: number;
}

export class EmissionProbe implements TickScheduler {
  private readonly state = new WeakMap<TickTask, TaskState>();
  /** Epoch ms of each recorded gap's end, and the gap's relative error. */
  private at = new Float64Array(1 << 16);
  private err = new Float64Array(1 << 16);
  private n = 0;

  constructor(
    private readonly inner: TickScheduler,
    private readonly nominalGapMs: number,
  ) {}

  now(): number {
    return this.inner.now();
  }

  cancel(task: TickTask): void {
    this.inner.cancel(task);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.inner.sleep(ms, signal);
  }

  schedule(task: TickTask, due: number): void {
    if (!this.state.has(task)) {
      const st: TaskState = { ticks: 0, last: 0 };
      this.state.set(task, st);
      const original = task.onTick.bind(task);
      task.onTick = (now: number): void => {
        const t = performance.now();
        // Tick 1 ends the prefill and tick 2 writes the first token; gaps start from tick 3.
        if (++st.ticks >= 3) this.record(t, Math.abs(t - st.last - this.nominalGapMs) / this.nominalGapMs);
        st.last = t;
        original(now);
      };
    }
    this.inner.schedule(task, due);
  }

  private record(t: number, e: number): void {
    if (this.n === this.at.length) {
      const at = new Float64Array(this.n * 2);
      const err = new Float64Array(this.n * 2);
      at.set(this.at);
      err.set(this.err);
      this.at = at;
      this.err = err;
    }
    this.at[this.n] = performance.timeOrigin + t;
    this.err[this.n++] = e;
  }

  /** p50/p99/p99.9 of the gap error, over gaps ending within [fromEpochMs, toEpochMs]. */
  summary(fromEpochMs: number, toEpochMs: number): { gaps: number; p50: number; p99: number; p999: number } {
    const xs: number[] = [];
    for (let i = 0; i < this.n; i++) if (this.at[i] >= fromEpochMs && this.at[i] <= toEpochMs) xs.push(this.err[i]);
    const s = Float64Array.from(xs).sort();
    const q = (p: number): number => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN);
    return { gaps: s.length, p50: q(0.5), p99: q(0.99), p999: q(0.999) };
  }
}
