/**
 * A small YAML writer for plain data (objects, arrays, strings, numbers, booleans, null), enough to
 * print an effective config. Strings that YAML would read as something else are written as JSON
 * strings, which are valid double-quoted YAML scalars, so the output always reads back the same.
 */

const RESERVED = /^(?:~|null|true|false|yes|no|on|off|y|n|\.inf|-\.inf|\.nan)$/i;
const PLAIN = /^[A-Za-z_./@][A-Za-z0-9_./:@+-]*(?: [A-Za-z0-9_./:@+-]+)*$/;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  if (typeof v === 'boolean') return String(v);
  const s = String(v);
  // A plain scalar ending in ':' reads as a mapping key (`keyPrefix: ollama-ring:`).
  return PLAIN.test(s) && !RESERVED.test(s) && !s.includes(': ') && !s.endsWith(':') && !s.includes(' #') ? s : JSON.stringify(s);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: unknown): boolean {
  return Array.isArray(v) ? v.length === 0 : isObject(v) && Object.keys(v).length === 0;
}

/** Lines for the entries of a mapping or sequence, at `pad`. */
function lines(v: unknown, pad: string): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      if ((isObject(item) || Array.isArray(item)) && !isEmpty(item)) {
        // "- " then the item's first line; its other lines line up under the first key.
        const inner = lines(item, pad + '  ');
        out.push(`${pad}- ${inner[0].slice(pad.length + 2)}`, ...inner.slice(1));
      } else out.push(`${pad}- ${inline(item)}`);
    }
    return out;
  }
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === undefined) continue;
    if ((isObject(val) || Array.isArray(val)) && !isEmpty(val)) out.push(`${pad}${scalar(k)}:`, ...lines(val, pad + '  '));
    else out.push(`${pad}${scalar(k)}: ${inline(val)}`);
  }
  return out;
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (isObject(v)) return '{}';
  return scalar(v);
}

/**
 * @example toYaml({ server: { port: 8080 }, nodes: [{ id: 'a', tags: [] }] });
 * // "server:\n  port: 8080\nnodes:\n  - id: a\n    tags: []\n"
 */
export function toYaml(value: unknown): string {
  if (!isObject(value) && !Array.isArray(value)) return `${scalar(value)}\n`;
  if (isEmpty(value)) return `${inline(value)}\n`;
  return lines(value, '').join('\n') + '\n';
}
