/**
 * The checks of a workflow's graph, all made before anything runs: every `depends_on` and template
 * names a task that exists (a template is also a dependency), `.json` is read only from a task that
 * asks for JSON, every variable has a value, `item`/`index` appear only under `for_each`, there is
 * no cycle, and (given the pool) every model is on some node.
 */
import { normalizeModel } from '@ollama-ring/protocol';
import type { Segment } from '../config/paths';
import type { NodeSnapshot } from '../nodes/node-snapshot';
import { Issues } from './load';
import { comparisonOf, stringsIn, type TemplateRef, templatesIn } from './template';
import type { Workflow, WorkflowTask } from './types';

/** The environment variable that sets workflow variable `name` (below `--var`, above the file's default). */
export const VAR_ENV_PREFIX = 'OLLAMA_RING_VAR_';

/**
 * The variables a run uses: the file's defaults, then `OLLAMA_RING_VAR_<name>` from the
 * environment, then `overrides` (`--var k=v`). A value that reads as a JSON list or object is one.
 */
export function resolveVars(
  wf: Workflow,
  overrides: Readonly<Record<string, string | unknown>> = {},
  env: Readonly<Record<string, string | undefined>> = {},
): Record<string, unknown> {
  const vars: Record<string, unknown> = { ...wf.vars };
  for (const [k, v] of Object.entries(env)) if (k.startsWith(VAR_ENV_PREFIX) && v !== undefined) vars[k.slice(VAR_ENV_PREFIX.length)] = typed(v);
  for (const [k, v] of Object.entries(overrides)) vars[k] = typeof v === 'string' ? typed(v) : v;
  return vars;
}

function typed(v: string): unknown {
  if (!/^\s*[[{]/.test(v)) return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/** What the model check asks of the pool. */
export interface ModelCatalog {
  hasModel(model: string): boolean;
  /** Named in the message, e.g. `nodes a, b`. */
  describe: string;
}

/**
 * Checks the graph (and the models, given a catalog) and fills each task's `needs`. Throws a
 * `WorkflowError` listing every problem with its key and line.
 *
 * @example checkWorkflow(wf, resolveVars(wf), { hasModel: (m) => m === 'llama3.2', describe: 'node a' });
 */
export function checkWorkflow(wf: Workflow, vars: Readonly<Record<string, unknown>>, catalog?: ModelCatalog): void {
  const issues = new Issues(wf.file, wf.lineOf);
  const byId = new Map(wf.tasks.map((t) => [t.id, t]));
  for (const t of wf.tasks) {
    const at: Segment[] = ['tasks', t.index];
    const needs = new Set<string>();
    t.dependsOn.forEach((dep, j) => {
      const path = t.dependsOn.length === 1 ? [...at, 'depends_on'] : [...at, 'depends_on', j];
      if (!byId.has(dep)) issues.add(path, `unknown task '${dep}'${suggest(dep, byId)}`);
      else needs.add(dep);
    });
    const refsAt = (v: unknown, base: Segment[]) => {
      for (const { s, at: sub } of stringsIn(v)) for (const r of templatesIn(s)) checkRef(r, t, [...base, ...sub], { byId, vars, issues, needs });
    };
    refsAt(t.params, [...at, 'params']);
    if (typeof t.when === 'string') {
      refsAt(t.when, [...at, 'when']);
      const cmp = comparisonOf(t.when);
      if (cmp && (cmp.left === '' || cmp.right === '')) issues.add([...at, 'when'], `'${t.when}': a comparison needs a value on each side of ${cmp.op}`);
    }
    if (typeof t.forEach === 'string') checkForEach(t, vars, issues, byId, needs);
    else if (t.forEach !== undefined) refsAt(t.forEach, [...at, 'for_each']);
    if (needs.has(t.id)) issues.add(at, `task '${t.id}' depends on itself`);
    t.needs = [...needs].filter((n) => n !== t.id);
  }
  issues.throwIfAny(`${wf.file ?? 'the workflow'} has errors`);
  const cycle = findCycle(wf.tasks);
  if (cycle) issues.add(['tasks', byId.get(cycle[0])!.index], `the tasks depend on each other in a cycle: ${cycle.join(' -> ')}`);
  if (catalog) checkModels(wf, vars, catalog, issues);
  issues.throwIfAny(`${wf.file ?? 'the workflow'} has errors`);
}

interface RefContext {
  byId: Map<string, WorkflowTask>;
  vars: Readonly<Record<string, unknown>>;
  issues: Issues;
  needs: Set<string>;
}

function checkRef(r: TemplateRef, t: WorkflowTask, path: Segment[], c: RefContext): void {
  switch (r.kind) {
    case 'bad':
      return c.issues.add(path, r.why);
    case 'var':
      if (!Object.hasOwn(c.vars, r.name)) c.issues.add(path, `variable '${r.name}' has no value (give it under vars:, with --var ${r.name}=…, or as ${VAR_ENV_PREFIX}${r.name})`);
      return;
    case 'item':
    case 'index':
      if (t.forEach === undefined) c.issues.add(path, `'${r.text}' is only for a task with for_each`);
      return;
    case 'task': {
      const dep = c.byId.get(r.id);
      if (!dep) return c.issues.add(path, `'${r.text}' reads unknown task '${r.id}'${suggest(r.id, c.byId)}`);
      if (r.field === 'json' && !dep.jsonOutput) c.issues.add(path, `'${r.text}' reads JSON, but task '${r.id}' does not ask for JSON output (set its params.format)`);
      c.needs.add(r.id);
    }
  }
}

/** `for_each` as a string: exactly one template that gives a list (a variable holding one, or a task's JSON). */
function checkForEach(t: WorkflowTask, vars: Readonly<Record<string, unknown>>, issues: Issues, byId: Map<string, WorkflowTask>, needs: Set<string>): void {
  const path: Segment[] = ['tasks', t.index, 'for_each'];
  const s = (t.forEach as string).trim();
  const refs = templatesIn(s);
  if (refs.length !== 1 || refs[0].text !== s) return issues.add(path, `must be a list, or one template giving one (\${var}, {{ tasks.<id>.json.<path> }}); got '${s}'`);
  const r = refs[0];
  if (r.kind === 'task' && r.field !== 'json') return issues.add(path, `'${s}': a task's output is text; for_each takes a list from its JSON ({{ tasks.${r.id}.json.<path> }})`);
  if (r.kind === 'item' || r.kind === 'index') return issues.add(path, `'${s}' cannot be used in for_each itself`);
  checkRef(r, t, path, { byId, vars, issues, needs });
  if (r.kind === 'var' && Object.hasOwn(vars, r.name) && !Array.isArray(vars[r.name])) issues.add(path, `variable '${r.name}' is not a list (got ${JSON.stringify(vars[r.name])})`);
}

/** A cycle's task ids (first repeated at the end), or undefined. */
export function findCycle(tasks: readonly WorkflowTask[]): string[] | undefined {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 2) return undefined;
    if (state.get(id) === 1) return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 1);
    stack.push(id);
    for (const n of byId.get(id)?.needs ?? []) {
      const c = visit(n);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const t of tasks) {
    const c = visit(t.id);
    if (c) return c.reverse();
  }
  return undefined;
}

/** Each task's model (and its fallback) must be on some node; a model read from another task's answer is checked when it runs. */
function checkModels(wf: Workflow, vars: Readonly<Record<string, unknown>>, catalog: ModelCatalog, issues: Issues): void {
  for (const t of wf.tasks) {
    const model = plainValue(t.params.model, vars);
    if (model === undefined) continue;
    const fallback = plainValue(t.params.fallback_model, vars);
    if (catalog.hasModel(model) || (fallback !== undefined && catalog.hasModel(fallback))) continue;
    const also = fallback !== undefined ? ` (nor its fallback_model '${fallback}')` : '';
    issues.add(['tasks', t.index, 'params', 'model'], `model '${model}'${also} is on no node of the pool (${catalog.describe})`);
  }
}

/** A string with only `${var}` templates, rendered; undefined when it reads a task or is no string. */
function plainValue(v: unknown, vars: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof v !== 'string') return undefined;
  const refs = templatesIn(v);
  if (refs.some((r) => r.kind !== 'var')) return undefined;
  return v.replace(/\$\{\s*([\w-]+)\s*\}/g, (_m, name: string) => String(vars[name] ?? ''));
}

function suggest(id: string, byId: Map<string, WorkflowTask>): string {
  const near = [...byId.keys()].find((k) => k.toLowerCase() === id.toLowerCase());
  return near ? ` (did you mean '${near}'?)` : ` (tasks: ${[...byId.keys()].slice(0, 8).join(', ')}${byId.size > 8 ? ', …' : ''})`;
}

/**
 * The model check over a pool's nodes as the registry shows them (their configured or discovered
 * models; a node that knows of none takes any model, as the scheduler routes it).
 *
 * @example checkWorkflow(wf, vars, poolCatalog(factory.getNodeRegistry().getAllNodes()));
 */
export function poolCatalog(nodes: readonly Pick<NodeSnapshot, 'id' | 'models'>[]): ModelCatalog {
  return {
    hasModel: (m) => nodes.some((n) => n.models.length === 0 || n.models.includes(normalizeModel(m))),
    describe: nodes.length ? `nodes: ${nodes.map((n) => n.id).join(', ')}` : 'it has no nodes',
  };
}
