/**
 * What `bench:batch`'s scenarios share: an open-loop Poisson load that runs until told to stop,
 * and the machine-load check (how much of a core other processes took while a scenario ran, and
 * measuring again when that was too much, as `bench:proxy` does).
 */
import { performance } from 'node:perf_hooks';
import { machineCpuMs, totalCpuMs } from '../proxy/cpu';
import { exponential, mulberry32 } from '../scheduling/rng';

export interface OpenLoop {
  /** Stops sending; resolves once every request sent has ended. */
  stop(): Promise<void>;
  /** Requests sent so far. */
  readonly sent: number;
}

/**
 * Calls `fire` at Poisson arrivals of `ratePerSec` (wall), seeded, until `stop()`. A late timer
 * sends everything already due at once, so lateness never accumulates. `fire` must not reject.
 */
export function openLoop(ratePerSec: number, seed: number, fire: () => Promise<void>): OpenLoop {
  const rnd = mulberry32(seed);
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  let due = exponential(rnd, ratePerSec / 1000);
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = (): void => {
    const now = performance.now() - t0;
    while (!stopped && due <= now) {
      const p = fire().finally(() => inFlight.delete(p));
      inFlight.add(p);
      sent++;
      due += exponential(rnd, ratePerSec / 1000);
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, due - (performance.now() - t0)));
  };
  tick();
  return {
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([...inFlight]);
    },
  };
}

/** CPU of this process and `pids` against the whole machine's, over a window (Linux; else undefined). */
export function cpuWindow(pids: readonly number[]): () => number | undefined {
  const own = process.cpuUsage();
  const kids = totalCpuMs(pids);
  const machine = machineCpuMs();
  const t = performance.now();
  return () => {
    const d = process.cpuUsage(own);
    const kids2 = totalCpuMs(pids);
    const machine2 = machineCpuMs();
    if (kids === undefined || kids2 === undefined || machine === undefined || machine2 === undefined) return undefined;
    const ours = (d.user + d.system) / 1000 + (kids2 - kids);
    const other = Math.max(0, machine2.tasks - machine.tasks - ours);
    return (other / (performance.now() - t)) * 100;
  };
}

export interface Quiet {
  /** A run during which other processes took more than this (% of one core) is measured again… */
  maxOtherPct: number;
  /** …up to this many times; the least disturbed run is kept. */
  retries: number;
}

/**
 * Runs `measure` (which reports the other processes' share of a core during it), again while that
 * share was above `maxOtherPct` (up to `retries` times), and returns the least disturbed run.
 */
export async function quietly<R extends { otherPct?: number; attempts?: number }>(label: string, q: Quiet, measure: () => Promise<R>): Promise<R> {
  let best: R | undefined;
  for (let attempt = 1; ; attempt++) {
    const r = await measure();
    const other = r.otherPct ?? 0;
    if (!best || other < (best.otherPct ?? 0)) best = r;
    best.attempts = attempt;
    if (other <= q.maxOtherPct || attempt > q.retries) return best;
    console.log(`  ${label}: other processes took ${other.toFixed(0)}% of a core (> ${q.maxOtherPct}%), measuring again`);
  }
}
