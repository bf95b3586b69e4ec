/**
 * CPU time of other processes, from /proc (Linux only; elsewhere every reading is undefined).
 * On a machine where load generator, proxy and sim share the cores, where the cycles went is
 * part of the result: a proxy's CPU time per request is its cost, whatever the req/s.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Linux reports /proc times in USER_HZ, which is 100 on every architecture Node runs on. */
const USER_HZ = 100;

function stat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing paren are fixed.
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU ms of `pid` and all its threads; undefined when it cannot be read. */
function cpuMs(pid: number): number | undefined {
  const f = stat(pid);
  // After the paren: state(3) ppid(4) … utime(14) stime(15), so utime is f[11] and stime f[12].
  return f ? ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ : undefined;
}

/** The direct children of `pid` (nginx's workers under its master). */
export function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((p) => stat(p)?.[1] === String(pid));
}

/** Summed CPU ms of a set of processes; undefined if any cannot be read. */
export function totalCpuMs(pids: readonly number[]): number | undefined {
  let sum = 0;
  for (const p of pids) {
    const v = cpuMs(p);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}

/** CPU ms the whole machine spent (all cores), from /proc/stat, split by who it went to. */
export interface MachineCpu {
  /** Processes (user, nice, system) and time stolen by the hypervisor. */
  tasks: number;
  /** Interrupts and softirqs: mostly the kernel's loopback network work, charged to no process. */
  irq: number;
}

export function machineCpuMs(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu  user nice system idle iowait irq softirq steal …
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const ms = (ticks: number): number => (ticks * 1000) / USER_HZ;
    return { tasks: ms(f[0] + f[1] + f[2] + (f[7] ?? 0)), irq: ms(f[5] + f[6]) };
  } catch {
    return undefined;
  }
}

/** CPU the whole machine used over the next `ms`, in % of one core (undefined off Linux). */
export async function machineLoad(ms: number): Promise<number | undefined> {
  const a = machineCpuMs();
  const t = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpuMs();
  return a === undefined || b === undefined ? undefined : ((b.tasks + b.irq - a.tasks - a.irq) / (performance.now() - t)) * 100;
}
