/** Runs one load job in the load child and samples every process's CPU over its measured window. */
import { performance } from 'node:perf_hooks';
import type { Child } from './child';
import { machineCpuMs, totalCpuMs, type MachineCpu } from './cpu';
import type { LoopDelay, LoadJob, LoadResult } from './protocol';

/** Share of one core each side used in the measured window (100 = one core busy). */
export interface CpuShare {
  proxyPct?: number;
  simPct?: number;
  loadPct?: number;
  /** Other processes on the machine (other users of the shared cores, this driver) and steal. */
  otherPct?: number;
  /** Interrupts and softirqs: the kernel's network work for all the traffic, ours included. */
  irqPct?: number;
}

export interface Measured<R extends LoadResult> {
  result: R;
  cpu: CpuShare;
  /** Event-loop delay over the window: of ollama-ring's process (absent for direct and nginx), and of the sim's. */
  proxyLoop?: LoopDelay;
  simLoop?: LoopDelay;
  /** Runs it took (see measureQuietly); the one reported is the least disturbed. */
  attempts?: number;
}

export interface Processes {
  proxy: () => number[];
  proxyChild?: Child;
  sim: Child;
}

interface Sample {
  t: number;
  proxy?: number;
  sim?: number;
  load?: number;
  machine?: MachineCpu;
}

function runJob<R extends LoadResult>(load: Child, job: LoadJob, p: Processes): Promise<Measured<R>> {
  const sample = (): Sample => ({
    t: performance.now(),
    proxy: totalCpuMs(p.proxy()),
    sim: totalCpuMs([p.sim.pid]),
    load: totalCpuMs([load.pid]),
    machine: machineCpuMs(),
  });
  let first: Sample | undefined;
  let last: Sample | undefined;
  let loops: Promise<[LoopDelay | undefined, LoopDelay]> | undefined;
  return new Promise((resolve, reject) => {
    const off = load.on((m) => {
      if (m.type === 'phase') {
        if (m.phase === 'measure') {
          first = sample();
          p.proxyChild?.loopStart();
          p.sim.loopStart();
        } else {
          last = sample();
          loops = Promise.all([p.proxyChild?.loopStop(), p.sim.loopStop()]);
        }
      } else if (m.type === 'result') {
        off();
        const cpu = share(first, last);
        void (loops ?? Promise.resolve([undefined, undefined] as const)).then(([proxyLoop, simLoop]) => resolve({ result: m.result as R, cpu, proxyLoop, simLoop }));
      } else if (m.type === 'failed') {
        off();
        reject(new Error(`load generator: ${m.error}`));
      }
    });
    load.send({ type: 'run', job });
  });
}

function share(a: Sample | undefined, b: Sample | undefined): CpuShare {
  if (!a || !b || b.t <= a.t) return {};
  const wall = b.t - a.t;
  const delta = (x?: number, y?: number): number | undefined => (x === undefined || y === undefined ? undefined : y - x);
  const pct = (ms?: number): number | undefined => (ms === undefined ? undefined : (ms / wall) * 100);
  const proxy = delta(a.proxy, b.proxy);
  const sim = delta(a.sim, b.sim);
  const load = delta(a.load, b.load);
  const tasks = delta(a.machine?.tasks, b.machine?.tasks);
  const irq = delta(a.machine?.irq, b.machine?.irq);
  const ours = proxy === undefined || sim === undefined || load === undefined ? undefined : proxy + sim + load;
  const other = tasks === undefined || ours === undefined ? undefined : Math.max(0, tasks - ours);
  return { proxyPct: pct(proxy), simPct: pct(sim), loadPct: pct(load), otherPct: pct(other), irqPct: pct(irq) };
}

export interface Quiet {
  /** A run during which other processes used more than this (% of one core) counts as disturbed. */
  maxOtherPct: number;
  /** Disturbed runs are measured again up to this many times. */
  retries: number;
}

/**
 * Runs `job`, and again while other processes on the shared machine took more than
 * `maxOtherPct` of a core during its window (up to `retries` times); returns the least disturbed
 * run. A window someone else's build landed in says little about the proxy.
 */
export async function measureQuietly<R extends LoadResult>(load: Child, job: LoadJob, p: Processes, q: Quiet, label: string): Promise<Measured<R>> {
  let best: Measured<R> | undefined;
  for (let attempt = 1; ; attempt++) {
    const m = await runJob<R>(load, job, p);
    const other = m.cpu.otherPct ?? 0;
    if (!best || other < (best.cpu.otherPct ?? 0)) best = { ...m, attempts: attempt };
    best.attempts = attempt;
    if (other <= q.maxOtherPct || attempt > q.retries) return best;
    console.log(`  ${label} ${job.kind}: other processes took ${other.toFixed(0)}% of a core (> ${q.maxOtherPct}%), measuring again`);
  }
}
