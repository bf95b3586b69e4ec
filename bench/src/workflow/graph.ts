/**
 * `bench:workflow`'s generated workflow: a seeded DAG of generate tasks with mixed models, fan-out
 * (hubs many tasks wait on), fan-in (tasks that wait on many) and uneven lengths (most answers
 * short, a few long), and the bounds any executor is held to on a pool of a given capacity.
 */
import { mulberry32 } from '../scheduling/rng';

export const MODELS = ['llama3.2:3b', 'qwen3:4b'] as const;

export interface BenchTask {
  id: string;
  model: string;
  /** Tokens it generates (its `num_predict`; the emulator never stops earlier). */
  tokens: number;
  deps: string[];
}

/** Uneven lengths: 70 % short, 25 % medium, 5 % long. */
function length(rnd: () => number): number {
  const u = rnd();
  const between = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
  if (u < 0.7) return between(8, 32);
  if (u < 0.95) return between(48, 128);
  return between(200, 400);
}

/**
 * `n` tasks in the file's order, each after the ones it needs. Every 25th task is a hub the next
 * ten depend on (fan-out); one task in ten gathers 4–8 earlier ones (fan-in); the others need one
 * or two recent tasks; the first few need nothing.
 */
export function generateGraph(n: number, seed: number): BenchTask[] {
  const rnd = mulberry32(seed);
  const tasks: BenchTask[] = [];
  const roots = Math.max(2, Math.round(n / 25));
  let hub: string | undefined;
  let hubLeft = 0;
  for (let i = 0; i < n; i++) {
    const id = `t${String(i).padStart(3, '0')}`;
    const deps = new Set<string>();
    if (i >= roots) {
      const recent = (span: number) => tasks[Math.max(0, i - 1 - Math.floor(rnd() * Math.min(span, i)))].id;
      if (hub && hubLeft-- > 0) deps.add(hub);
      else if (rnd() < 0.1) for (let k = 4 + Math.floor(rnd() * 5); k > 0; k--) deps.add(recent(40));
      else for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) deps.add(recent(25));
    }
    tasks.push({ id, model: MODELS[Math.floor(rnd() * MODELS.length)], tokens: length(rnd), deps: [...deps] });
    if (i % 25 === 24) {
      hub = id;
      hubLeft = 10;
    }
  }
  return tasks;
}

/** The workflow document of the graph (as `POST /api/workflows` or a YAML file would hold it). */
export function workflowDoc(tasks: readonly BenchTask[]): Record<string, unknown> {
  return {
    name: 'bench',
    tasks: tasks.map((t) => ({
      id: t.id,
      method: 'llm/generate',
      depends_on: t.deps,
      params: { model: t.model, prompt: `step ${t.id}`, options: { num_predict: t.tokens } },
    })),
  };
}

/** Each task's level: 0 for a root, else one more than the deepest task it needs (the waves of a wave-by-wave executor). */
export function levels(tasks: readonly BenchTask[]): Map<string, number> {
  const level = new Map<string, number>();
  for (const t of tasks) level.set(t.id, t.deps.length === 0 ? 0 : 1 + Math.max(...t.deps.map((d) => level.get(d)!)));
  return level;
}

/**
 * The makespan no executor can beat on `slots` slots, given each task's service time: the longest
 * chain of service times (the critical path), and the total work spread over every slot.
 */
export function lowerBound(tasks: readonly BenchTask[], serviceMs: (t: BenchTask) => number, slots: number): { criticalPathMs: number; workMs: number; boundMs: number } {
  const finish = new Map<string, number>();
  let work = 0;
  for (const t of tasks) {
    const s = serviceMs(t);
    work += s;
    finish.set(t.id, s + Math.max(0, ...t.deps.map((d) => finish.get(d)!)));
  }
  const criticalPathMs = Math.max(...finish.values());
  const workMs = work / slots;
  return { criticalPathMs, workMs, boundMs: Math.max(criticalPathMs, workMs) };
}
