/**
 * JSON bodies of any depth Ollama accepts. Go's `encoding/json`, which Ollama decodes every request
 * with, refuses nesting deeper than 10,000 levels and takes anything up to it. V8 parses any depth
 * (`JSON.parse` does not recurse), but `JSON.stringify` and recursive walks overflow the stack a
 * few thousand levels down. So a body is measured once, where it comes in, against the same limit
 * ({@link jsonDepthError}), and one that is re-serialised goes through {@link toJson}, which does
 * not recurse.
 */

/** The deepest nesting of arrays and objects a request body may have: Go's `encoding/json` limit, hence Ollama's. */
export const MAX_JSON_DEPTH = 10_000;

// Shared with json-scan.ts, the other reader of JSON bytes.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * The 400 message for JSON text nested deeper than `max` levels (the body's own object is level 1),
 * else undefined. A scan of the bytes, without parsing or recursion; a body no longer than `max`
 * bytes cannot be too deep and is not scanned at all. Malformed JSON is not its business: what it
 * does not refuse, the parser does.
 *
 * @example const tooDeep = jsonDepthError(bytes); if (tooDeep) return reject(400, tooDeep);
 */
export function jsonDepthError(bytes: Uint8Array, max = MAX_JSON_DEPTH): string | undefined {
  if (bytes.length <= max) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      // Multi-byte UTF-8 never contains these ASCII bytes, so bytes are as good as characters.
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return `invalid JSON: nested more than ${max} levels deep`;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return undefined;
}

/** An array or object being written: its keys (undefined for an array) and how far it has got. */
interface Frame {
  value: object;
  keys: string[] | undefined;
  next: number;
  /** An object member has been written (a comma goes before the next one). */
  wrote: boolean;
}

/**
 * `JSON.stringify(value)` for a value of any depth: the native one when it can, else the same
 * text, written without recursion. Same rules for JSON data: `toJSON` is called, object members
 * that are undefined, functions or symbols are left out and array items of those kinds become
 * `null`, non-finite numbers become `null`, a cycle or a bigint throws a `TypeError`.
 *
 * @example const payload = toJson({ ...body, stream: true });
 */
export function toJson(value: Record<string, unknown> | unknown[]): string;
export function toJson(value: unknown): string | undefined;
export function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (e) {
    // A RangeError is the stack overflowing on depth; anything else (a cycle, a bigint) stands.
    if (!(e instanceof RangeError)) throw e;
  }
  return writeDeep(value);
}

function writeDeep(root: unknown): string | undefined {
  const parts: string[] = [];
  const stack: Frame[] = [];
  // The arrays and objects being written, to refuse a cycle as JSON.stringify does.
  const open = new Set<object>();

  /** Writes `value` (or opens it, for an array or object); false when JSON leaves it out. */
  const put = (value: unknown, key: string): boolean => {
    let v = value;
    if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(k: string): unknown }).toJSON(key);
    if (typeof v !== 'object' || v === null) {
      const text = JSON.stringify(v);
      if (text === undefined) return false;
      parts.push(text);
      return true;
    }
    if (open.has(v)) throw new TypeError('Converting circular structure to JSON');
    open.add(v);
    const isArray = Array.isArray(v);
    parts.push(isArray ? '[' : '{');
    stack.push({ value: v, keys: isArray ? undefined : Object.keys(v), next: 0, wrote: false });
    return true;
  };

  if (!put(root, '')) return undefined;
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.keys === undefined) {
      const items = f.value as unknown[];
      if (f.next >= items.length) {
        close(f, ']');
        continue;
      }
      if (f.next > 0) parts.push(',');
      const i = f.next++;
      if (!put(items[i], String(i))) parts.push('null');
    } else {
      if (f.next >= f.keys.length) {
        close(f, '}');
        continue;
      }
      const key = f.keys[f.next++];
      const mark = parts.length;
      parts.push(f.wrote ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`);
      if (put((f.value as Record<string, unknown>)[key], key)) f.wrote = true;
      else parts.length = mark;
    }
  }
  return parts.join('');

  function close(f: Frame, bracket: string): void {
    parts.push(bracket);
    open.delete(f.value);
    stack.pop();
  }
}
