/**
 * Ollama model names: `[host/][namespace/]model[:tag]`, with the defaults `registry.ollama.ai`,
 * `library` and `latest`, matched case-insensitively (Ollama's `getExistingName`). So
 * `registry.ollama.ai/library/x:latest`, `library/x`, `X` and `x` are one model. Every table of
 * models in the product is keyed by {@link normalizeModel} (or {@link nameKey}); responses echo
 * the {@link displayName}.
 */

export const DEFAULT_HOST = 'registry.ollama.ai';
export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';

/** A parsed model name, defaults filled in, case as given. */
export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

// The part rules of Ollama's `types/model/name.go`.
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,349}$/;
const PART_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;
const NS_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/;

/**
 * Splits a name into its parts, filling defaults. Returns undefined when the name is not valid.
 *
 * @example parseModelName('user/m:7b'); // { host: 'registry.ollama.ai', namespace: 'user', model: 'm', tag: '7b' }
 */
export function parseModelName(raw: string): ModelName | undefined {
  if (!raw) return undefined;
  // A digest suffix (`name@sha256:...`) pins a version of the same name; routing is by name.
  const at = raw.indexOf('@');
  const s = at >= 0 ? raw.slice(0, at) : raw;
  const slash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  let tag = DEFAULT_TAG;
  let path = s;
  // A colon before the last slash is a registry port, not a tag.
  if (colon > slash) {
    tag = s.slice(colon + 1);
    path = s.slice(0, colon);
  }
  const parts = path.split('/');
  if (parts.length > 3) return undefined;
  const model = parts[parts.length - 1];
  const namespace = parts.length >= 2 ? parts[parts.length - 2] : DEFAULT_NAMESPACE;
  const host = parts.length === 3 ? parts[0] : DEFAULT_HOST;
  if (!PART_RE.test(model) || !NS_RE.test(namespace) || !HOST_RE.test(host) || !TAG_RE.test(tag)) return undefined;
  return { host, namespace, model, tag };
}

/** The fully qualified form, e.g. `registry.ollama.ai/library/llama3.2:latest`. */
export function fullName(n: ModelName): string {
  return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
}

/** The shortest unambiguous form (Ollama's `DisplayShortest`), as `/api/tags` shows it: `llama3.2:latest`, `user/m:7b`. */
export function displayName(n: ModelName): string {
  // The defaults are recognised in any case, as names match case-insensitively.
  if (n.host.toLowerCase() === DEFAULT_HOST) {
    return n.namespace.toLowerCase() === DEFAULT_NAMESPACE ? `${n.model}:${n.tag}` : `${n.namespace}/${n.model}:${n.tag}`;
  }
  return fullName(n);
}

/** The case-insensitive key of a parsed name: its shortest form in lower case. */
export function modelKey(n: ModelName): string {
  return displayName(n).toLowerCase();
}

/** The key of a name, or undefined for an invalid one (for callers that must refuse those). */
export function nameKey(raw: string): string | undefined {
  const n = parseModelName(raw);
  return n ? modelKey(n) : undefined;
}

/**
 * The key of any string a client or node calls a model, surrounding blanks ignored. An invalid
 * name cannot match a valid one; it still gets a stable key (lower case, `:latest` when it has no
 * tag), so that it can be looked up and refused like any unknown model.
 *
 * @example normalizeModel('registry.ollama.ai/library/LLaMA3.2'); // 'llama3.2:latest'
 */
export function normalizeModel(raw: string): string {
  // Every request's model is normalised, often more than once (validation, slots, residency), and
  // a pool has few names: the full parse runs once per distinct string.
  let key = normalized.get(raw);
  if (key === undefined) {
    if (normalized.size >= NORMALIZED_MAX) normalized.clear();
    key = normalizeUncached(raw);
    normalized.set(raw, key);
  }
  return key;
}

/** Distinct names remembered by {@link normalizeModel}; past it the memo starts afresh (names from clients are unbounded). */
const NORMALIZED_MAX = 4_096;
const normalized = new Map<string, string>();

function normalizeUncached(raw: string): string {
  const t = raw.trim();
  const key = nameKey(t);
  if (key !== undefined) return key;
  const n = t.toLowerCase();
  return n.indexOf(':', n.lastIndexOf('/') + 1) === -1 ? `${n}:latest` : n;
}

/** True when two names denote the same model. */
export function sameModel(a: string, b: string): boolean {
  return normalizeModel(a) === normalizeModel(b);
}

/** How `/api/show` names an arbitrary string in its "not found": the short form when valid, else the input. */
export function shortestOrRaw(raw: string): string {
  const n = parseModelName(raw);
  return n ? displayName(n) : raw;
}
