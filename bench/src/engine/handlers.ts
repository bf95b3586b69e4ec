/**
 * Handlers the engine benchmark runs on worker threads (loaded from dist/ by module path).
 * Each does a little real work on the event, so the loop cannot be optimised away, and the last
 * stage reports when it has seen every event it expects.
 */
import type { EventHandler, EventView, WorkerHandlerContext } from '@ollama-ring/disruptor';
import { createHistogram } from 'node:perf_hooks';
import { nowNs } from '../common/stats';
import type { benchSchema } from './layout';

type S = typeof benchSchema;
type Done = { doneNs: number; count: number; sum: number };

/** Sums a field; reports when `expect` events have been seen. */
export function createCounter(options: { expect: number; field: 'value' | 's2' | 'a' }, ctx: WorkerHandlerContext): EventHandler<S> {
  let count = 0;
  let sum = 0;
  const field = options.field;
  return {
    onEvent(e: EventView<S>) {
      sum = (sum + e[field]) | 0;
      if (++count === options.expect) ctx.postMessage({ doneNs: nowNs(), count, sum } satisfies Done);
    },
  };
}

/** A pipeline stage: writes `to` from `from`. */
export function createStage(options: { from: 'value' | 's1'; to: 's1' | 's2' }): EventHandler<S> {
  const { from, to } = options;
  return {
    onEvent(e: EventView<S>) {
      e[to] = e[from] + 1;
    },
  };
}

/** A diamond branch: flags multiples of `divisor` in field `to`. */
export function createFlagger(options: { divisor: number; to: 'a' | 'b' }): EventHandler<S> {
  const { divisor, to } = options;
  return {
    onEvent(e: EventView<S>) {
      e[to] = e.value % divisor === 0 ? 1 : 0;
    },
  };
}

/** The join of a diamond: counts events both branches flagged; reports when `expect` were seen. */
export function createJoin(options: { expect: number }, ctx: WorkerHandlerContext): EventHandler<S> {
  let count = 0;
  let sum = 0;
  return {
    onEvent(e: EventView<S>) {
      if (e.a === 1 && e.b === 1) sum++;
      if (++count === options.expect) ctx.postMessage({ doneNs: nowNs(), count, sum } satisfies Done);
    },
  };
}

/** Last stage of the latency run: records send-to-here time per event, reports percentiles. */
export function createLatencySink(options: { expect: number; warmup: number }, ctx: WorkerHandlerContext): EventHandler<S> {
  const h = createHistogram();
  let count = 0;
  return {
    onEvent(e: EventView<S>) {
      const ns = nowNs() - e.stamp;
      if (++count > options.warmup) h.record(Math.max(1, Math.round(ns)));
      if (count === options.expect) {
        ctx.postMessage({ p50Ns: h.percentile(50), p99Ns: h.percentile(99), p999Ns: h.percentile(99.9), n: h.count });
      }
    },
  };
}
