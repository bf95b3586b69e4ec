/**
 * The workflow's templates: `${var}` (a variable) and `{{ … }}` (a task's answer: `tasks.<id>.output`,
 * `tasks.<id>.json.<path>`; in a `for_each` task, `item`, `item.<path>` and `index`). A task's
 * `output` is always text (a `for_each` task's answers joined by blank lines). A string that is
 * exactly one template takes the value as it is (a list from `json`, a variable or an item stays a
 * list); elsewhere the value is written into the text (a string as is, anything else as JSON). No
 * code runs: a template only reads.
 */

/** One template found in a string. */
export type TemplateRef =
  | { kind: 'var'; name: string; text: string }
  | { kind: 'task'; id: string; field: 'output' | 'json'; path: string[]; text: string }
  | { kind: 'item'; path: string[]; text: string }
  | { kind: 'index'; text: string }
  | { kind: 'bad'; text: string; why: string };

const PATTERN = /\$\{\s*([^{}]*?)\s*\}|\{\{\s*([^{}]*?)\s*\}\}/g;

/** Parses what is inside one template. */
function refOf(text: string, dollar: string | undefined, braces: string | undefined): TemplateRef {
  if (dollar !== undefined) {
    if (!/^[A-Za-z_][\w-]*$/.test(dollar)) return { kind: 'bad', text, why: `'${text}' is not a variable name (\${name})` };
    return { kind: 'var', name: dollar, text };
  }
  const parts = (braces ?? '').split('.').map((p) => p.trim());
  if (parts[0] === 'item') return { kind: 'item', path: parts.slice(1), text };
  if (parts[0] === 'index' && parts.length === 1) return { kind: 'index', text };
  if (parts[0] === 'vars' && parts.length === 2) return { kind: 'var', name: parts[1], text };
  if (parts[0] === 'tasks' && parts.length >= 3 && parts[1] !== '' && (parts[2] === 'output' || parts[2] === 'json')) {
    if (parts[2] === 'output' && parts.length > 3) return { kind: 'bad', text, why: `'${text}': a task's output is text; use tasks.${parts[1]}.json.<path> to read into JSON` };
    return { kind: 'task', id: parts[1], field: parts[2], path: parts.slice(3), text };
  }
  return { kind: 'bad', text, why: `'${text}' is not a template this knows ({{ tasks.<id>.output }}, {{ tasks.<id>.json.<path> }}, {{ item }}, {{ index }}, \${var})` };
}

/** Every template of a string. */
export function templatesIn(s: string): TemplateRef[] {
  const out: TemplateRef[] = [];
  for (const m of s.matchAll(PATTERN)) out.push(refOf(m[0], m[1], m[2]));
  return out;
}

/** Every string of a value (objects and lists walked), with its path below the value. */
export function* stringsIn(v: unknown, at: (string | number)[] = []): Generator<{ s: string; at: (string | number)[] }> {
  if (typeof v === 'string') yield { s: v, at };
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* stringsIn(v[i], [...at, i]);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) yield* stringsIn(x, [...at, k]);
}

/** What templates read when they are rendered. */
export interface TemplateScope {
  vars: Readonly<Record<string, unknown>>;
  /** A finished task's answer: `output` (text) and `json` (when it asked for JSON). */
  task(id: string): { output?: unknown; json?: unknown } | undefined;
  item?: unknown;
  index?: number;
}

/** Walks `path` into a JSON value (`a.b.0`); undefined when it leads nowhere. */
export function atPath(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const p of path) {
    if (Array.isArray(cur) && /^\d+$/.test(p)) cur = cur[Number(p)];
    else if (cur !== null && typeof cur === 'object' && Object.hasOwn(cur, p)) cur = (cur as Record<string, unknown>)[p];
    else return undefined;
  }
  return cur;
}

function valueOf(ref: TemplateRef, scope: TemplateScope): unknown {
  switch (ref.kind) {
    case 'var':
      return scope.vars[ref.name];
    case 'index':
      return scope.index;
    case 'item':
      return atPath(scope.item, ref.path);
    case 'task': {
      const t = scope.task(ref.id);
      // `output` is text always (a for_each task's answers joined); `json` keeps its type.
      return ref.field === 'output' ? (t?.output === undefined ? undefined : asText(t.output)) : atPath(t?.json, ref.path);
    }
    default:
      return undefined;
  }
}

/** A value written into text: strings as they are, a list of answers one after another, anything else as JSON. */
export function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join('\n\n');
  return JSON.stringify(v);
}

/** Renders one string. */
export function renderString(s: string, scope: TemplateScope): unknown {
  const whole = [...s.matchAll(PATTERN)];
  if (whole.length === 1 && whole[0][0] === s.trim()) return valueOf(refOf(whole[0][0], whole[0][1], whole[0][2]), scope);
  return s.replace(PATTERN, (text, d: string | undefined, b: string | undefined) => asText(valueOf(refOf(text, d, b), scope)));
}

/** Renders every string of a value (a request body, say), returning a new value. */
export function render(v: unknown, scope: TemplateScope): unknown {
  if (typeof v === 'string') return renderString(v, scope);
  if (Array.isArray(v)) return v.map((x) => render(x, scope));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, render(x, scope)]));
  return v;
}

const FALSE_WORDS = new Set(['', 'false', '0', 'no', 'null', 'none', 'undefined']);

/** A value as a condition: false, null, 0, an empty string or list, and the words false/no/0/null are false. */
function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'string') return !FALSE_WORDS.has(v.trim().toLowerCase());
  return true;
}

/** Splits `A == B` / `A != B` outside templates; undefined for a plain condition. */
export function comparisonOf(expr: string): { left: string; op: '==' | '!='; right: string } | undefined {
  const masked = expr.replace(PATTERN, (m) => ' '.repeat(m.length));
  const m = /(^|\s)(==|!=)(\s|$)/.exec(masked);
  if (!m) return undefined;
  return { left: expr.slice(0, m.index).trim(), op: m[2] as '==' | '!=', right: expr.slice(m.index + m[0].length).trim() };
}

/** Evaluates a `when`. */
export function conditionHolds(when: string | boolean, scope: TemplateScope): boolean {
  if (typeof when === 'boolean') return when;
  const cmp = comparisonOf(when);
  if (!cmp) return truthy(renderString(when, scope));
  const side = (s: string) => asText(renderString(s.replace(/^(['"])(.*)\1$/, '$2'), scope)).trim();
  const equal = side(cmp.left) === side(cmp.right);
  return cmp.op === '==' ? equal : !equal;
}
