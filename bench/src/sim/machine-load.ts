/**
 * How busy the machine was with work other than this benchmark, from /proc/stat (Linux). On a
 * shared two-core box, other processes' CPU is the main source of gap errors, so every figure is
 * reported alongside it.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

interface CpuSample {
  busyTicks: number;
  totalTicks: number;
}

function sample(): CpuSample | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busyTicks: total - idle, totalTicks: total };
  } catch {
    return undefined;
  }
}

/** Starts a measurement; `stop(ownCpuSeconds)` returns the machine figures for the interval. */
export function startMachineLoad(): { stop(ownCpuSeconds: number): MachineLoad | undefined } {
  const a = sample();
  const t0 = process.hrtime.bigint();
  return {
    stop(ownCpuSeconds: number): MachineLoad | undefined {
      const b = sample();
      if (!a || !b) return undefined;
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cores = cpus().length;
      const busyFraction = (b.busyTicks - a.busyTicks) / (b.totalTicks - a.totalTicks);
      const busyCores = busyFraction * cores;
      const ownCores = ownCpuSeconds / wall;
      return { cores, busyCores, benchCores: ownCores, otherCores: Math.max(0, busyCores - ownCores) };
    },
  };
}

export interface MachineLoad {
  cores: number;
  /** Average cores busy over the run, everything included. */
  busyCores: number;
  /** Of which this benchmark (sim process + load generator). */
  benchCores: number;
  /** Of which other processes (and kernel work not charged to ours). */
  otherCores: number;
}
