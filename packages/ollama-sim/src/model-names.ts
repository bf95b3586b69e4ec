/**
 * Ollama model names: `[host/][namespace/]model[:tag]`, with the defaults `registry.ollama.ai`,
 * `library` and `latest`. Lookups are case-insensitive, so every table in the sim is keyed by
 * `nameKey(...)` while responses echo the display form.
 */

export const DEFAULT_HOST = 'registry.ollama.ai';
export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';

export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,349}$/;
const PART_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;
const NS_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/;

/** Splits a name into its parts, filling defaults. Returns undefined when the name is not valid. */
export function parseModelName(raw: string): ModelName | undefined {
  if (!raw) return undefined;
  // A digest suffix (`name@sha256:...`) pins a version; the sim has one version per name.
  const at = raw.indexOf('@');
  const s = at >= 0 ? raw.slice(0, at) : raw;
  const slash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  let tag = DEFAULT_TAG;
  let path = s;
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

/** The shortest unambiguous form, as `/api/tags` shows it: `llama3.2:latest`, `user/m:7b`. */
export function displayName(n: ModelName): string {
  if (n.host === DEFAULT_HOST) {
    return n.namespace === DEFAULT_NAMESPACE ? `${n.model}:${n.tag}` : `${n.namespace}/${n.model}:${n.tag}`;
  }
  return fullName(n);
}

/** The case-insensitive lookup key of a name, or undefined for an invalid name. */
export function nameKey(raw: string): string | undefined {
  const n = parseModelName(raw);
  return n ? fullName(n).toLowerCase() : undefined;
}

/** `/api/show`'s display of an arbitrary string: the short form when valid, else the input. */
export function shortestOrRaw(raw: string): string {
  const n = parseModelName(raw);
  return n ? displayName(n) : raw;
}
