/**
 * From a schema-checked input to the effective config: defaults filled in, nodes completed (ids
 * derived, URLs tidied), and the checks a JSON schema cannot express (unique ids, cross-field
 * ranges). Findings carry paths of the alias-mapped input; the loader turns them into lines.
 */
import { normalizeModel } from '@ollama-ring/protocol';
import type { NodeSpec } from '../nodes/node';
import { compileHybrid, defaultHybridConfig } from '../strategies/hybrid-config';
import { defaultConfig, localNode, NODE_DEFAULTS } from './defaults';
import { isPlainObject, type Segment } from './paths';
import { type TlsFiles, withUpstreamTls } from '../nodes/node-tls';
import { tlsPairProblems } from './tls-files';
import { type BalancerConfig, type BucketConfig, ROUTE_CLASSES, type RouteTimeouts, type ServerTlsConfig } from './types';

/**
 * Which strategy names a config may use: a list, or a predicate; a predicate may return a string
 * instead of false, the reason the name is refused (it becomes the error's message).
 *
 * @example const check: StrategyCheck = StrategyFactory.accepts;
 */
export type StrategyCheck = readonly string[] | ((name: string) => boolean | string);

/** A node input of any provenance; the schema has already checked the types. */
export type NodeLike = { readonly [K in keyof NodeSpec]?: unknown };

/** A finding at a path of the alias-mapped input. */
export interface Problem {
  segs: Segment[];
  message: string;
  warning: boolean;
}

export interface MergeResult {
  config: BalancerConfig;
  problems: Problem[];
  /** No node list was given anywhere, so the pool is the local Ollama. */
  usedLocalNode: boolean;
}

/**
 * Merges a schema-valid input over the defaults. `strategies`, when given, says which strategy
 * names to accept: a list (aliases included) or a predicate such as
 * `StrategyFactory.accepts` (which also says why a seed's name is refused).
 *
 * @example mergeEffective({ server: { port: 9000 } }).config.server; // { host: '127.0.0.1', port: 9000 }
 */
export function mergeEffective(input: Record<string, unknown>, strategies?: StrategyCheck): MergeResult {
  const problems: Problem[] = [];
  const config = defaultConfig();
  // The defaults object is the shape: only its keys are read from the input, so unknown or unsafe
  // keys can never reach the result.
  mergeShape(config as unknown as Record<string, unknown>, input, ['nodes']);

  // The defaults' route classes are empty objects, which mergeShape (led by the defaults' keys)
  // would leave empty: copy what the input gives (the schema has checked its keys and types).
  const routes = isPlainObject(input.timeouts) && isPlainObject(input.timeouts.routes) ? input.timeouts.routes : {};
  for (const cls of ROUTE_CLASSES) if (isPlainObject(routes[cls])) config.timeouts.routes[cls] = structuredClone(routes[cls]) as RouteTimeouts;

  // Optional sections, absent from the defaults (which lead mergeShape): copied as given (schema-checked).
  if (isPlainObject(input.server) && isPlainObject(input.server.tls)) config.server.tls = structuredClone(input.server.tls) as unknown as ServerTlsConfig;
  if (isPlainObject(input.upstreamTls)) config.upstreamTls = structuredClone(input.upstreamTls) as TlsFiles;

  const hc = isPlainObject(input.healthCheck) ? input.healthCheck : {};
  if (hc.discoveryIntervalMs === undefined) config.healthCheck.discoveryIntervalMs = config.healthCheck.intervalMs;

  fillBurst(config.rateLimit.global);
  fillBurst(config.rateLimit.perClient);
  fillBurst(config.rateLimit.perNode);
  config.auth.apiKeys = config.auth.apiKeys.map((k) => {
    if (!k.rateLimit) return k;
    // The schema lets a key's limit give only `rps`, so the typed fields may be missing here.
    const given: Partial<BucketConfig> = k.rateLimit;
    const rateLimit = { rps: given.rps ?? 0, burst: given.burst ?? 0 };
    fillBurst(rateLimit);
    return { ...k, rateLimit };
  });

  let usedLocalNode = false;
  if (input.nodes === undefined) {
    config.nodes = [localNode()];
    usedLocalNode = true;
  } else {
    const done = completeNodes(input.nodes as Record<string, unknown>[]);
    // The pool-wide TLS files go into each https node's own, so every caller reads one place.
    config.nodes = withUpstreamTls({ upstreamTls: config.upstreamTls, nodes: done.nodes }).nodes;
    problems.push(...done.problems);
  }
  problems.push(...tlsPairProblems(input));

  if (config.healthCheck.degradedThreshold > config.healthCheck.downThreshold) {
    problems.push({
      segs: ['healthCheck', 'degradedThreshold'],
      message: `must be <= healthCheck.downThreshold (${config.healthCheck.downThreshold})`,
      warning: false,
    });
  }
  // Node refuses a headers timeout longer than the request's; and a blob upload is a request.
  const server = config.server;
  if (server.headersTimeoutMs > server.requestTimeoutMs) {
    problems.push({ segs: ['server', 'headersTimeoutMs'], message: `must be <= server.requestTimeoutMs (${server.requestTimeoutMs})`, warning: false });
  }
  if (server.blobUploadTimeoutMs < server.requestTimeoutMs) {
    problems.push({ segs: ['server', 'blobUploadTimeoutMs'], message: `must be >= server.requestTimeoutMs (${server.requestTimeoutMs})`, warning: false });
  }
  if (config.retry.initialBackoffMs > config.retry.maxBackoffMs) {
    problems.push({
      segs: ['retry', 'initialBackoffMs'],
      message: `must be <= retry.maxBackoffMs (${config.retry.maxBackoffMs})`,
      warning: false,
    });
  }
  const name = config.strategy.type;
  const verdict = !strategies || (typeof strategies === 'function' ? strategies(name) : strategies.includes(name));
  if (typeof verdict === 'string') problems.push({ segs: ['strategy', 'type'], message: verdict, warning: false });
  else if (!verdict) {
    const known = typeof strategies === 'function' || !strategies ? '' : `; known: ${strategies.join(', ')}`;
    problems.push({ segs: ['strategy', 'type'], message: `unknown strategy "${name}"${known}`, warning: false });
  }
  // Checked whatever the pool's strategy: an admin call or a request may switch to `hybrid` at any time.
  for (const p of compileHybrid(config.strategy.hybrid ?? defaultHybridConfig(), config.nodes).problems) problems.push({ ...p, segs: ['strategy', 'hybrid', ...p.segs] });
  return { config, problems, usedLocalNode };
}

/**
 * Completes schema-valid node inputs into `NodeSpec`s: defaults applied, trailing slashes dropped
 * from URLs, ids derived from `host:port` where missing (suffixed `-2`, `-3` on collision).
 * A URL listed twice is a warning; duplicate explicit ids are `findDuplicateIds`' business.
 *
 * @example completeNodes([{ url: 'http://10.0.0.5:11434/' }]).nodes[0].id; // '10.0.0.5:11434'
 */
export function completeNodes(list: readonly NodeLike[]): { nodes: NodeSpec[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const taken = new Map<string, number>();
  list.forEach((n, i) => {
    if (typeof n.id === 'string' && !taken.has(n.id)) taken.set(n.id, i);
  });
  const urls = new Map<string, number>();
  const nodes = list.map((n, i): NodeSpec => {
    const url = String(n.url).replace(/\/+$/, '');
    const seen = urls.get(url);
    if (seen === undefined) urls.set(url, i);
    else problems.push({ segs: ['nodes', i, 'url'], message: `same URL as nodes[${seen}]: its slots add up on one server`, warning: true });
    let id = typeof n.id === 'string' ? n.id : undefined;
    if (id === undefined) {
      const base = deriveId(url, i);
      id = base;
      for (let k = 2; taken.has(id); k++) id = `${base}-${k}`;
      taken.set(id, i);
    }
    const spec: NodeSpec = {
      id,
      url,
      models: copyStrings(n.models) ?? [...NODE_DEFAULTS.models],
      maxConcurrentRequests: typeof n.maxConcurrentRequests === 'number' ? n.maxConcurrentRequests : NODE_DEFAULTS.maxConcurrentRequests,
      weight: typeof n.weight === 'number' ? n.weight : NODE_DEFAULTS.weight,
      enabled: typeof n.enabled === 'boolean' ? n.enabled : NODE_DEFAULTS.enabled,
      tags: copyStrings(n.tags) ?? [...NODE_DEFAULTS.tags],
      priority: typeof n.priority === 'number' ? n.priority : NODE_DEFAULTS.priority,
    };
    if (isPlainObject(n.maxConcurrentPerModel)) {
      const perModel: Record<string, number> = {};
      for (const [model, cap] of Object.entries(n.maxConcurrentPerModel)) {
        perModel[normalizeModel(model)] = Number(cap);
        if (Number(cap) > spec.maxConcurrentRequests) {
          problems.push({
            segs: ['nodes', i, 'maxConcurrentPerModel', model],
            message: `exceeds the node's maxConcurrentRequests (${spec.maxConcurrentRequests}), which still applies`,
            warning: true,
          });
        }
      }
      spec.maxConcurrentPerModel = perModel;
    }
    if (typeof n.maxLoadedModels === 'number') spec.maxLoadedModels = n.maxLoadedModels;
    if (typeof n.metricsUrl === 'string') spec.metricsUrl = n.metricsUrl;
    if (isPlainObject(n.tls)) {
      if (/^https:/i.test(url)) spec.tls = structuredClone(n.tls) as TlsFiles;
      else problems.push({ segs: ['nodes', i, 'tls'], message: 'ignored: the node URL is http://, not https://', warning: true });
    }
    return spec;
  });
  return { nodes, problems };
}

/**
 * Explicit node ids given twice. Checked apart from `completeNodes`, on unvalidated input, so it is
 * reported together with schema errors rather than after they are fixed.
 *
 * @example findDuplicateIds([{ id: 'a' }, { id: 'a' }]); // [{ segs: ['nodes', 1, 'id'], … }]
 */
export function findDuplicateIds(list: unknown): Problem[] {
  if (!Array.isArray(list)) return [];
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  list.forEach((n: unknown, i) => {
    const id = isPlainObject(n) ? n.id : undefined;
    if (typeof id !== 'string') return;
    const at = first.get(id);
    if (at === undefined) first.set(id, i);
    else problems.push({ segs: ['nodes', i, 'id'], message: `duplicate node id "${id}" (first at nodes[${at}])`, warning: false });
  });
  return problems;
}

/** `http://10.0.0.5:11434` → `10.0.0.5:11434`; `node-<n>` if the URL does not parse. */
function deriveId(url: string, index: number): string {
  try {
    const host = new URL(url).host;
    if (host) return host;
  } catch {
    // fall through: the schema has already rejected bad URLs, this is only a safety net
  }
  return `node-${index + 1}`;
}

function copyStrings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.map(String) : undefined;
}

/** `rps` without `burst` gets a burst of one second's worth, so a limit never blocks everything. */
function fillBurst(b: BucketConfig): void {
  if (b.rps > 0 && b.burst === 0) b.burst = Math.max(1, Math.ceil(b.rps));
}

function mergeShape(target: Record<string, unknown>, input: Record<string, unknown>, skip: readonly string[]): void {
  for (const key of Object.keys(target)) {
    if (skip.includes(key) || !Object.hasOwn(input, key)) continue;
    const v = input[key];
    if (v === undefined) continue;
    if (isPlainObject(target[key]) && isPlainObject(v)) mergeShape(target[key] as Record<string, unknown>, v, []);
    else target[key] = structuredClone(v);
  }
}
