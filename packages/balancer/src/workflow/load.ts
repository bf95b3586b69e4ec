/**
 * Reading a workflow file: YAML (or JSON) parsed with a line index, checked against the schema,
 * and turned into a {@link Workflow}. Every problem is collected, named by its key and line, and
 * thrown together as one {@link WorkflowError}; the graph's own checks are in `check.ts`.
 */
import { readFileSync } from 'node:fs';
import type { ConfigIssue } from '../errors';
import { ConfigError } from '../errors';
import { formatPath, isPlainObject, type Segment } from '../config/paths';
import { checkSchema } from '../config/schema';
import { parseYamlSource } from '../config/yaml-source';
import type { RequestClass } from '../request-class';
import { WorkflowError } from './errors';
import { WORKFLOW_SCHEMA } from './schema';
import type { Workflow, WorkflowMethod, WorkflowTask } from './types';

/** Collects issues with their lines. */
export class Issues {
  readonly list: ConfigIssue[] = [];
  constructor(
    private readonly file: string | undefined,
    private readonly lineOf: (segs: readonly Segment[]) => number | undefined,
  ) {}

  add(segs: readonly Segment[], message: string): void {
    const i: ConfigIssue = { path: formatPath(segs), message };
    if (this.file !== undefined) i.file = this.file;
    const line = this.lineOf(segs);
    if (line !== undefined) i.line = line;
    this.list.push(i);
  }

  throwIfAny(what: string): void {
    if (this.list.length > 0)
      throw new WorkflowError(
        what,
        [...this.list].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
      );
  }
}

/**
 * Parses a workflow from its text (YAML or JSON).
 *
 * @example const wf = parseWorkflow(readFileSync('flow.yaml', 'utf8'), 'flow.yaml');
 */
export function parseWorkflow(text: string, file?: string): Workflow {
  let src;
  try {
    src = parseYamlSource(text, file);
  } catch (e) {
    if (e instanceof ConfigError) throw new WorkflowError(`${file ?? 'the workflow'} is not valid YAML`, e.issues);
    throw e;
  }
  return workflowOf(src.value, file, (segs) => src.lineOf(segs));
}

/** Reads and parses a workflow file. */
export function loadWorkflowFile(path: string): Workflow {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new WorkflowError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseWorkflow(text, path);
}

/** A workflow from a parsed document (an API call's JSON, say): no lines to name. */
export function workflowOf(doc: unknown, file?: string, lineOf: (segs: readonly Segment[]) => number | undefined = () => undefined): Workflow {
  const issues = new Issues(file, lineOf);
  const where = file ?? 'the workflow';
  if (!isPlainObject(doc)) {
    issues.add([], 'a workflow is a mapping with a `tasks` list');
    issues.throwIfAny(`${where} is not a valid workflow`);
  }
  const d = doc as Record<string, unknown>;
  for (const p of checkSchema(d, WORKFLOW_SCHEMA)) issues.add(p.segs, p.unknownKey ? 'unknown key' : p.message);
  issues.throwIfAny(`${where} is not a valid workflow`);

  const tasks: WorkflowTask[] = [];
  const seen = new Map<string, number>();
  (d.tasks as Record<string, unknown>[]).forEach((t, index) => {
    const at = ['tasks', index];
    const id = typeof t.id === 'string' ? t.id : typeof t.name === 'string' ? idOfName(t.name) : undefined;
    if (id === undefined || id === '') return issues.add(at, 'a task needs an `id` (or a `name`)');
    if (seen.has(id)) issues.add([...at, typeof t.id === 'string' ? 'id' : 'name'], `task id '${id}' is also tasks[${seen.get(id)}]'s; ids must be unique`);
    seen.set(id, index);
    const timeoutMs = t.timeout === undefined ? undefined : durationMs(t.timeout);
    if (timeoutMs === null) issues.add([...at, 'timeout'], `must be seconds (a number) or a duration such as 500ms, 30s, 2m (got ${JSON.stringify(t.timeout)})`);
    if (t.when !== undefined && typeof t.when !== 'string' && typeof t.when !== 'boolean') issues.add([...at, 'when'], 'must be a condition (a string) or true/false');
    if (t.for_each !== undefined && !Array.isArray(t.for_each) && typeof t.for_each !== 'string')
      issues.add([...at, 'for_each'], 'must be a list, or a template giving one (${var}, {{ tasks.<id>.json.<path> }})');
    const params = t.params as Record<string, unknown>;
    if (typeof params.model !== 'string' || params.model === '') issues.add([...at, 'params', 'model'], 'is required (a model name)');
    tasks.push({
      id,
      name: typeof t.name === 'string' ? t.name : undefined,
      index,
      method: t.method as WorkflowMethod,
      params,
      dependsOn: t.depends_on === undefined ? [] : typeof t.depends_on === 'string' ? [t.depends_on] : (t.depends_on as string[]),
      needs: [],
      retries: typeof t.retries === 'number' ? t.retries : 0,
      timeoutMs: timeoutMs ?? undefined,
      when: t.when as string | boolean | undefined,
      forEach: t.for_each,
      jsonOutput: params.format !== undefined && params.format !== null && params.format !== '',
    });
  });
  const pool = poolOf(d, issues);
  issues.throwIfAny(`${where} is not a valid workflow`);
  return {
    name: typeof d.name === 'string' ? d.name : (file ?? 'workflow'),
    description: typeof d.description === 'string' ? d.description : undefined,
    vars: isPlainObject(d.vars) ? d.vars : {},
    pool,
    concurrency: typeof d.concurrency === 'number' ? d.concurrency : undefined,
    requestClass: d.class as RequestClass | undefined,
    tasks,
    file,
    lineOf,
  };
}

/** Seed 001's task names are phrases: `Deep Analysis` → `deep_analysis`, usable in templates. */
export function idOfName(name: string): string {
  const s = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[a-z_]/.test(s) ? s : `t_${s}`;
}

/** Seconds (a number), or `500ms`, `30s`, `2m`, `1h`; null when it is none of those. */
export function durationMs(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? Math.round(v * 1000) : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return n > 0 ? Math.round(n) : null;
}

/** The workflow's own pool, as a config input: `pool` (nodes, or a config), or seed 001's `providers.ollama.instances`. */
function poolOf(d: Record<string, unknown>, issues: Issues): Record<string, unknown> | undefined {
  const providers = d.providers as Record<string, unknown> | undefined;
  const seed = isPlainObject(providers?.ollama) ? (providers.ollama as Record<string, unknown>) : undefined;
  if (providers !== undefined && seed?.instances === undefined) issues.add(['providers'], 'only `providers.ollama.instances` (a list of nodes) is read here');
  if (d.pool !== undefined && seed?.instances !== undefined) issues.add(['pool'], 'both `pool` and `providers.ollama.instances` are given; keep one');
  if (seed?.instances !== undefined) {
    if (!Array.isArray(seed.instances)) issues.add(['providers', 'ollama', 'instances'], 'must be a list of nodes');
    return { instances: seed.instances };
  }
  if (d.pool === undefined) return undefined;
  if (Array.isArray(d.pool)) return { nodes: d.pool };
  if (isPlainObject(d.pool)) return d.pool;
  issues.add(['pool'], 'must be a list of nodes, or a config (`nodes:` and any other config keys)');
  return undefined;
}
