/**
 * Key paths inside a config document. Internally a path is a list of segments; it is keyed by its
 * JSON pointer (what ajv reports) and shown to people as `nodes[1].url`.
 */

/** One step into a document: a mapping key or a sequence index. */
export type Segment = string | number;

/** `['nodes', 1, 'url']` → `/nodes/1/url` (RFC 6901 escaping, as ajv's `instancePath`). */
export function toPointer(segs: readonly Segment[]): string {
  return segs.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** `/nodes/1/url` → `['nodes', 1, 'url']`; all-digit segments become indices. */
export function fromPointer(pointer: string): Segment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `['nodes', 1, 'url']` → `nodes[1].url`; odd keys are quoted so the path stays unambiguous. */
export function formatPath(segs: readonly Segment[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Keys that must never be copied by name: assigning them can reach Object.prototype. */
export function isUnsafeKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/** A plain data object (from YAML, JSON or an object literal), not an array or class instance. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The path lies at or under one of the pointers. */
export function isUnder(segs: readonly Segment[], pointers: ReadonlySet<string>): boolean {
  if (pointers.size === 0) return false;
  for (let n = segs.length; n >= 0; n--) if (pointers.has(toPointer(segs.slice(0, n)))) return true;
  return false;
}
