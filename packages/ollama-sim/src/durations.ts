/**
 * Go-flavoured time handling: `keep_alive` durations as `api.Duration` parses them, and
 * RFC3339Nano timestamps as Go's `time.Time` marshals them.
 */

/** Milliseconds that stand for "forever": Go's MaxInt64 nanoseconds, about 292 years. */
export const FOREVER_MS = 9_223_372_036_854;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration string (`"5m"`, `"1h30m"`, `"-1m"`, `"0"`) into milliseconds.
 * Throws with Go's error text (`time: missing unit in duration "3600"`) when it does not parse.
 */
export function parseGoDuration(text: string): number {
  const orig = text;
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration "${orig}"`);
  let total = 0;
  while (s.length > 0) {
    const num = /^(\d*)(\.\d*)?/.exec(s);
    if (!num || (num[1] === '' && (num[2] === undefined || num[2] === '.'))) {
      throw new Error(`time: invalid duration "${orig}"`);
    }
    s = s.slice(num[0].length);
    const unit = /^[^0-9.]+/.exec(s);
    if (!unit) throw new Error(`time: missing unit in duration "${orig}"`);
    const factor = UNIT_MS[unit[0]];
    if (factor === undefined) throw new Error(`time: unknown unit "${unit[0]}" in duration "${orig}"`);
    total += Number(num[0]) * factor;
    s = s.slice(unit[0].length);
  }
  return neg ? -total : total;
}

/**
 * Decodes a JSON `keep_alive` value the way `api.Duration.UnmarshalJSON` does. A number is seconds;
 * a string is a Go duration; anything negative means forever. Returns milliseconds (FOREVER_MS for
 * forever). Throws with the message Ollama sends back as a 400.
 */
export function parseKeepAlive(value: unknown): number {
  if (typeof value === 'number') {
    return value < 0 ? FOREVER_MS : value * 1000;
  }
  if (typeof value === 'string') {
    const ms = parseGoDuration(value);
    return ms < 0 ? FOREVER_MS : ms;
  }
  throw new Error(`Unsupported type: '${goTypeName(value)}'`);
}

function goTypeName(v: unknown): string {
  if (v === null) return '<nil>';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Go's RFC3339Nano fraction: nanoseconds with trailing zeros trimmed, and no dot when zero. */
function fraction(epochMs: number): string {
  const ns = Math.min(999_999_999, Math.round((((epochMs % 1000) + 1000) % 1000) * 1e6));
  if (ns === 0) return '';
  return `.${String(ns).padStart(9, '0').replace(/0+$/, '')}`;
}

/** `2024-09-12T21:17:29.110811Z`: how `created_at` is written (UTC). */
export function rfc3339Utc(epochMs: number): string {
  const d = new Date(Math.floor(epochMs));
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` + `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction(epochMs)}Z`
  );
}

/** `2024-06-04T14:38:31.83753-07:00`: how `modified_at` and `expires_at` are written (local zone). */
export function rfc3339Local(epochMs: number): string {
  const d = new Date(Math.floor(epochMs));
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` + `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${fraction(epochMs)}${zone}`;
}

let lastMs = -1;
let lastText = '';

/**
 * The `created_at` of a chunk written now. Thousands of chunks share each millisecond under load,
 * so the formatted string is cached per millisecond.
 */
export function createdAtNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastText = rfc3339Utc(ms);
  }
  return lastText;
}
