import { performance } from 'node:perf_hooks';
import { normalizeModel } from '@ollama-ring/protocol';
import type { LoadedModel } from './node';
import { OllamaProbe, ProbeError, isRecord, toProbeError, type ProbeErrorKind, type ProbeTarget } from './ollama-probe';

/**
 * Ollama's `ModelDetails`, as `/api/tags` and `/api/ps` send it (Ollama's own field names).
 *
 * @example
 * const d: OllamaModelDetails = { format: 'gguf', family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M' };
 */
export interface OllamaModelDetails {
  parent_model?: string;
  format?: string;
  family?: string;
  families?: string[] | null;
  parameter_size?: string;
  quantization_level?: string;
  context_length?: number;
  embedding_length?: number;
}

/**
 * A model installed on a node, from `/api/tags`.
 *
 * @example
 * const m: DiscoveredModel = { name: 'llama3.2:latest', size: 2019393189, digest: 'a80c…', details: {} };
 */
export interface DiscoveredModel {
  /** Normalised (`normalizeModel`), as the scheduler keys models. */
  name: string;
  size: number;
  digest: string;
  /** Epoch ms of `modified_at`, when it parses. */
  modifiedAt?: number;
  details: OllamaModelDetails;
  capabilities?: string[];
}

/**
 * One discovery of a node, sent to the scheduler as an event. `/api/tags` and `/api/ps` are read
 * together; `ok` only when both answered, but whichever did answer is still reported (`models`,
 * `loaded`), so a node with a broken `/api/ps` still advertises its models.
 *
 * @example
 * monitor = new HealthMonitor({ …, onDiscovery: (r) => scheduler.publish({ type: 'discovery', ...r }) });
 */
export interface DiscoveryResult {
  nodeId: string;
  ok: boolean;
  latencyMs: number;
  /** Epoch ms when discovery finished. */
  checkedAt: number;
  /** Epoch ms when the requests went out: `/api/ps` shows the node as of then, or later. */
  probedAt?: number;
  models?: DiscoveredModel[];
  /** Resident models; `expiresAt` is Infinity for "kept forever" (structured clone keeps it, JSON does not). */
  loaded?: LoadedModel[];
  error?: string;
  errorKind?: ProbeErrorKind;
}

// keep_alive < 0 makes Ollama report expiry ~292 years ahead; nothing legitimate is a century away.
const FOREVER_AFTER_MS = 100 * 365.25 * 24 * 3600 * 1000;

/**
 * `expires_at` as epoch ms: Infinity for Ollama's "forever" (a date centuries ahead). A value that
 * does not parse also gives Infinity: the model is resident now, and the next discovery corrects it.
 *
 * @example
 * parseExpiresAt('2024-06-04T14:38:31.83753-07:00', Date.now()); // 1717537111837
 * parseExpiresAt('2318-03-01T00:00:00Z', Date.now());             // Infinity
 */
export function parseExpiresAt(value: unknown, now: number): number {
  const t = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(t) || t - now > FOREVER_AFTER_MS) return Infinity;
  return t;
}

/**
 * Parses a `/api/tags` body. Entries without a name are skipped; duplicates (after normalisation)
 * are kept once. Throws a `malformed` {@link ProbeError} when the body is not Ollama's shape.
 *
 * @example
 * parseTags({ models: [{ name: 'llama3.2:latest', model: 'llama3.2:latest', size: 1, digest: 'ab', details: {} }] });
 */
export function parseTags(body: unknown): DiscoveredModel[] {
  const out = new Map<string, DiscoveredModel>();
  for (const e of modelsArray(body, '/api/tags')) {
    const name = entryName(e);
    if (name === undefined || out.has(name)) continue;
    const modified = typeof e.modified_at === 'string' ? Date.parse(e.modified_at) : NaN;
    out.set(name, {
      name,
      size: typeof e.size === 'number' ? e.size : 0,
      digest: typeof e.digest === 'string' ? e.digest : '',
      ...(!Number.isNaN(modified) && { modifiedAt: modified }),
      details: isRecord(e.details) ? (e.details as OllamaModelDetails) : {},
      ...(Array.isArray(e.capabilities) && { capabilities: e.capabilities.filter((c): c is string => typeof c === 'string') }),
    });
  }
  return [...out.values()];
}

/**
 * Parses a `/api/ps` body into the scheduler's `LoadedModel`s (signature unknown: null).
 * Throws a `malformed` {@link ProbeError} when the body is not Ollama's shape.
 *
 * @example
 * parsePs({ models: [{ name: 'mistral:latest', model: 'mistral:latest', expires_at: '…', size_vram: 5137025024 }] }, Date.now());
 */
export function parsePs(body: unknown, now: number): LoadedModel[] {
  const out = new Map<string, LoadedModel>();
  for (const e of modelsArray(body, '/api/ps')) {
    const model = entryName(e);
    if (model === undefined || out.has(model)) continue;
    out.set(model, {
      model,
      optionsSignature: null,
      expiresAt: parseExpiresAt(e.expires_at, now),
      ...(typeof e.size_vram === 'number' && { sizeVram: e.size_vram }),
    });
  }
  return [...out.values()];
}

/**
 * Reads `/api/tags` and `/api/ps` of one node, concurrently. Never throws; never mutates a node.
 *
 * @example
 * const r = await discoverNode(probe, { id: 'gpu-1', url: 'http://10.0.0.5:11434' });
 * if (r.loaded) scheduler.publish({ type: 'discovery', ...r });
 */
export async function discoverNode(probe: OllamaProbe, target: ProbeTarget, signal?: AbortSignal): Promise<DiscoveryResult> {
  const t0 = performance.now();
  const probedAt = Date.now();
  const [tags, ps] = await Promise.allSettled([
    probe.getJson(target, '/api/tags', signal).then(parseTags),
    probe.getJson(target, '/api/ps', signal).then((b) => parsePs(b, Date.now())),
  ]);
  const result: DiscoveryResult = { nodeId: target.id, ok: true, latencyMs: performance.now() - t0, checkedAt: Date.now(), probedAt };
  if (tags.status === 'fulfilled') result.models = tags.value;
  if (ps.status === 'fulfilled') result.loaded = ps.value;
  const failed = [tags, ps].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    const err = toProbeError(failed.reason);
    result.ok = false;
    result.error = err.message;
    result.errorKind = err.kind;
  }
  return result;
}

function modelsArray(body: unknown, path: string): Record<string, unknown>[] {
  if (!isRecord(body) || !('models' in body)) throw new ProbeError('malformed', `GET ${path}: no "models" field`);
  // Go encodes an empty slice that was never allocated as null.
  if (body.models === null) return [];
  if (!Array.isArray(body.models)) throw new ProbeError('malformed', `GET ${path}: "models" is not an array`);
  return body.models.filter(isRecord);
}

function entryName(e: Record<string, unknown>): string | undefined {
  const n = typeof e.model === 'string' && e.model ? e.model : typeof e.name === 'string' && e.name ? e.name : undefined;
  return n === undefined ? undefined : normalizeModel(n);
}
