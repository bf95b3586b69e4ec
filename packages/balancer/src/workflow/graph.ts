/**
 * The graph of a checked workflow: each task's rank (the longest chain of work from it to the end,
 * which the runner serves first), and its drawing as text or Mermaid.
 */
import type { Workflow, WorkflowTask } from './types';

/** A task's own work, in expected output tokens (its `num_predict`, or a typical answer's length). */
export function taskWeight(t: WorkflowTask): number {
  const options = t.params.options as Record<string, unknown> | undefined;
  const n = options?.num_predict;
  const base = typeof n === 'number' && n > 0 ? n : 128;
  return t.method === 'llm/embed' ? 16 : base;
}

/**
 * Each task's rank: its own weight plus the heaviest chain of tasks that wait on it. A task on the
 * critical path has the highest; serving the highest first keeps the makespan near its bound.
 */
export function ranks(tasks: readonly WorkflowTask[]): Map<string, number> {
  const dependents = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  for (const t of tasks) for (const n of t.needs) dependents.get(n)?.push(t.id);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const rank = new Map<string, number>();
  const of = (id: string): number => {
    const known = rank.get(id);
    if (known !== undefined) return known;
    const r = taskWeight(byId.get(id)!) + Math.max(0, ...dependents.get(id)!.map(of));
    rank.set(id, r);
    return r;
  };
  for (const t of tasks) of(t.id);
  return rank;
}

/** Tasks in an order where each comes after what it needs (the file's order among equals). */
export function topoOrder(tasks: readonly WorkflowTask[]): WorkflowTask[] {
  const done = new Set<string>();
  const out: WorkflowTask[] = [];
  while (out.length < tasks.length) {
    const before = out.length;
    for (const t of tasks) {
      if (done.has(t.id) || !t.needs.every((n) => done.has(n))) continue;
      out.push(t);
      done.add(t.id);
    }
    if (out.length === before) break; // a cycle: checkWorkflow reports it
  }
  return out;
}

function label(t: WorkflowTask): string {
  const model = typeof t.params.model === 'string' ? t.params.model : '?';
  const each = t.forEach !== undefined ? ' for_each' : '';
  const when = t.when !== undefined ? ' when' : '';
  return `${t.method} ${model}${each}${when}`;
}

/** The graph as indented text: one line per task, with what it waits for. */
export function graphText(wf: Workflow): string {
  const lines = [`workflow ${wf.name}: ${wf.tasks.length} tasks`];
  const level = new Map<string, number>();
  for (const t of topoOrder(wf.tasks)) {
    const l = Math.max(-1, ...t.needs.map((n) => level.get(n) ?? 0)) + 1;
    level.set(t.id, l);
    const after = t.needs.length ? `  <- ${t.needs.join(', ')}` : '';
    lines.push(`${'  '.repeat(l + 1)}${t.id}  [${label(t)}]${after}`);
  }
  return lines.join('\n') + '\n';
}

/** The graph in Mermaid's flowchart syntax. */
export function graphMermaid(wf: Workflow): string {
  const lines = ['flowchart TD'];
  for (const t of wf.tasks) lines.push(`  ${t.id}["${(t.name ?? t.id).replace(/"/g, "'")}<br/>${label(t)}"]`);
  for (const t of wf.tasks) for (const n of t.needs) lines.push(`  ${n} --> ${t.id}`);
  return lines.join('\n') + '\n';
}
