/**
 * Maps the seeds' spellings onto ours, so their files load unchanged. The list is deliberately small:
 *
 * | seed spelling                                   | ours                                        |
 * |-------------------------------------------------|---------------------------------------------|
 * | a top-level list of nodes (`[{url, max_concurrent}]`) | `nodes:`                              |
 * | `instances:`                                    | `nodes:`                                    |
 * | node `max_concurrent`                           | node `maxConcurrentRequests`                |
 * | node given as a string `id=url*slots`           | `{ id, url, maxConcurrentRequests }`        |
 * | node `specialization: <name>` (seed 001)        | one more entry of the node's `tags`         |
 * | `strategy: <name>`                              | `strategy: { type: <name> }`                |
 * | `load_balancing.strategy`                       | `strategy.type`                             |
 * | `load_balancing.health_check_interval` (s)      | `healthCheck.intervalMs`                    |
 * | `load_balancing.retry_attempts`                 | `retry.maxRetries`                          |
 * | `load_balancing.failover: false`                | `retry.maxRetries: 0`                       |
 * | `load_balancing.circuit_breaker.failure_threshold` | `healthCheck.circuitBreakerFailureThreshold` |
 * | `load_balancing.circuit_breaker.recovery_timeout` (s) | `healthCheck.circuitBreakerRecoveryMs` |
 * | `load_balancing.circuit_breaker.half_open_requests` | `healthCheck.halfOpenRequests`          |
 * | `auth.apiKeys: [<key string>]`                  | `auth.apiKeys: [{ key }]`                   |
 * | `check_models` (seed 000)                       | `discovery.enabled`                         |
 * | `chat_timeout` (s, seed 004)                    | `timeouts.routes.chat.requestTimeoutMs`     |
 * | `embedding_timeout` (s, seed 004)               | `timeouts.routes.embeddings.requestTimeoutMs` |
 *
 * Strategy names (`least_loaded`, …) are passed through; the strategy factory owns their aliases.
 */
import { parseNodeEntry } from './node-entry';
import { isPlainObject, isUnsafeKey, toPointer, type Segment } from './paths';

/** A finding at a path of the *raw* input (as the user wrote it). */
export interface RawProblem {
  segs: Segment[];
  message: string;
  warning: boolean;
}

/** The alias-mapped input, with where each renamed key came from. */
export interface NormalizedInput {
  input: Record<string, unknown>;
  /** Pointer in `input` → raw path, for keys whose name or place changed. */
  origins: Map<string, Segment[]>;
  problems: RawProblem[];
  /** Pointers of values replaced after an error here; schema findings under them are noise. */
  broken: Set<string>;
}

/**
 * The config is read with YAML's core schema, which has no merge type, so `<<` arrives as a plain
 * key. Ignoring it would silently drop what the author meant to include, so it is an error.
 */
/** Deeper than any config nests (its deepest key is a handful of levels down); see `clone`. */
const MAX_DEPTH = 64;
const MERGE_UNSUPPORTED = 'YAML merge keys (<<) are not supported (configs are read with the core schema); write the keys out';

interface AliasTarget {
  to: Segment[];
  /** Multiply numbers by this (seconds → ms). */
  scale?: number;
}

const LOAD_BALANCING: Record<string, AliasTarget> = {
  strategy: { to: ['strategy', 'type'] },
  health_check_interval: { to: ['healthCheck', 'intervalMs'], scale: 1000 },
  retry_attempts: { to: ['retry', 'maxRetries'] },
};

/** Top-level keys of the seeds' own settings (seed 000's pool arguments, seed 004's config). */
const TOP_LEVEL: Record<string, AliasTarget> = {
  check_models: { to: ['discovery', 'enabled'] },
  chat_timeout: { to: ['timeouts', 'routes', 'chat', 'requestTimeoutMs'], scale: 1000 },
  embedding_timeout: { to: ['timeouts', 'routes', 'embeddings', 'requestTimeoutMs'], scale: 1000 },
};

const CIRCUIT_BREAKER: Record<string, AliasTarget> = {
  failure_threshold: { to: ['healthCheck', 'circuitBreakerFailureThreshold'] },
  recovery_timeout: { to: ['healthCheck', 'circuitBreakerRecoveryMs'], scale: 1000 },
  half_open_requests: { to: ['healthCheck', 'halfOpenRequests'] },
};

/**
 * Copies `raw` (never mutating it) with aliases mapped and unsafe keys (`__proto__`, …) dropped.
 *
 * @example normalizeInput({ instances: [{ url: 'http://a:11434', max_concurrent: 2 }] }).input;
 * // { nodes: [{ url: 'http://a:11434', maxConcurrentRequests: 2 }] }
 */
export function normalizeInput(raw: unknown): NormalizedInput {
  const n = new Normalizer();
  n.run(raw);
  return { input: n.out, origins: n.origins, problems: n.problems, broken: n.broken };
}

class Normalizer {
  out: Record<string, unknown> = {};
  origins = new Map<string, Segment[]>();
  problems: RawProblem[] = [];
  broken = new Set<string>();

  run(raw: unknown): void {
    if (raw === undefined || raw === null) return;
    if (Array.isArray(raw)) {
      // A bare list is a node list (seed 000's `[{url, max_concurrent}]`).
      this.origins.set(toPointer(['nodes']), []);
      this.out.nodes = this.nodes(raw, []);
      return;
    }
    if (!isPlainObject(raw)) {
      this.error([], `the config must be a mapping or a list of nodes (got ${typeof raw})`);
      return;
    }
    for (const [key, value] of Object.entries(raw)) {
      if (isUnsafeKey(key)) this.warn([key], 'unsafe key ignored');
      else if (key === '<<') this.error([key], MERGE_UNSUPPORTED);
      else if (key === 'instances' || key === 'load_balancing' || Object.hasOwn(TOP_LEVEL, key))
        continue; // after canonical keys
      else if (key === 'nodes') this.out.nodes = Array.isArray(value) ? this.nodes(value, ['nodes']) : this.clone(value, ['nodes']);
      else if (key === 'strategy' && typeof value === 'string') this.put(['strategy', 'type'], value, ['strategy']);
      else if (key === 'auth' && isPlainObject(value)) this.out.auth = this.auth(value);
      else this.out[key] = this.clone(value, [key]);
    }
    if (Object.hasOwn(raw, 'instances')) {
      if (Object.hasOwn(raw, 'nodes')) this.error(['instances'], 'both `nodes` and its alias `instances` are given; keep one');
      else {
        this.origins.set(toPointer(['nodes']), ['instances']);
        this.out.nodes = Array.isArray(raw.instances) ? this.nodes(raw.instances, ['instances']) : this.clone(raw.instances, ['instances']);
      }
    }
    if (Object.hasOwn(raw, 'load_balancing')) this.loadBalancing(raw.load_balancing);
    for (const [key, target] of Object.entries(TOP_LEVEL)) if (Object.hasOwn(raw, key)) this.alias(target, raw[key], [key]);
  }

  private nodes(list: unknown[], at: Segment[]): unknown[] {
    return list.map((item, i) => {
      const here = [...at, i];
      if (typeof item === 'string') {
        try {
          return parseNodeEntry(item);
        } catch (err) {
          this.error(here, (err as Error).message);
          this.broken.add(toPointer(['nodes', i]));
          return {};
        }
      }
      if (!isPlainObject(item)) return this.clone(item, here);
      const node = this.clone(item, here) as Record<string, unknown>;
      if (Object.hasOwn(node, 'max_concurrent')) {
        if (Object.hasOwn(node, 'maxConcurrentRequests')) {
          this.error([...here, 'max_concurrent'], 'both `maxConcurrentRequests` and its alias `max_concurrent` are given; keep one');
        } else {
          node.maxConcurrentRequests = node.max_concurrent;
          this.origins.set(toPointer(['nodes', i, 'maxConcurrentRequests']), [...here, 'max_concurrent']);
        }
        delete node.max_concurrent;
      }
      if (Object.hasOwn(node, 'specialization')) this.specialization(node, here, i);
      return node;
    });
  }

  /**
   * Seed 001 gives a node an optional `specialization` ("large-models") beside its tags, with no
   * routing rule of its own: here it is one more tag, so a request that requires it (`instance_tags`,
   * `X-Ollama-Ring-Tags`, `RequestHints.tags`) goes to the nodes so specialised.
   */
  private specialization(node: Record<string, unknown>, here: Segment[], i: number): void {
    const value = node.specialization;
    delete node.specialization;
    if (typeof value !== 'string' || value.trim() === '') {
      this.error([...here, 'specialization'], `must be a non-empty string (got ${JSON.stringify(value) ?? String(value)})`);
      return;
    }
    if (node.tags === undefined) node.tags = [];
    // A `tags` that is not a list is the schema's to report, under its own key.
    if (!Array.isArray(node.tags)) return;
    if (!node.tags.includes(value)) node.tags.push(value);
    this.origins.set(toPointer(['nodes', i, 'tags', node.tags.indexOf(value)]), [...here, 'specialization']);
  }

  private auth(auth: Record<string, unknown>): Record<string, unknown> {
    const out = this.clone(auth, ['auth']) as Record<string, unknown>;
    if (Array.isArray(out.apiKeys)) out.apiKeys = out.apiKeys.map((k) => (typeof k === 'string' ? { key: k } : k));
    return out;
  }

  private loadBalancing(lb: unknown): void {
    const at: Segment[] = ['load_balancing'];
    if (!isPlainObject(lb)) {
      if (lb !== null) this.error(at, 'must be a mapping');
      return;
    }
    for (const [key, value] of Object.entries(lb)) {
      const target = LOAD_BALANCING[key];
      if (target) this.alias(target, value, [...at, key]);
      else if (key === 'circuit_breaker' && isPlainObject(value)) {
        for (const [k, v] of Object.entries(value)) {
          const t = CIRCUIT_BREAKER[k];
          if (t) this.alias(t, v, [...at, key, k]);
          else this.warn([...at, key, k], 'unknown key (ignored)');
        }
      } else if (key === 'failover') {
        // Failover is how retries work here; turning it off means no retries.
        if (value === false && !Object.hasOwn(lb, 'retry_attempts')) this.put(['retry', 'maxRetries'], 0, [...at, key]);
        else if (typeof value !== 'boolean') this.error([...at, key], 'must be boolean');
      } else this.warn([...at, key], 'unknown key (ignored)');
    }
  }

  private alias(t: AliasTarget, value: unknown, from: Segment[]): void {
    const v = t.scale !== undefined && typeof value === 'number' ? Math.round(value * t.scale) : value;
    this.put(t.to, this.clone(v, from), from);
  }

  /** Writes `value` at `to`, recording that it came from `from`; refuses to overwrite. */
  private put(to: Segment[], value: unknown, from: Segment[]): void {
    let cur: Record<string, unknown> = this.out;
    for (let i = 0; i < to.length - 1; i++) {
      const k = String(to[i]);
      if (cur[k] === undefined) cur[k] = {};
      const next = cur[k];
      if (!isPlainObject(next)) {
        this.error(from, `conflicts with \`${to.slice(0, i + 1).join('.')}\`, which is not a mapping`);
        return;
      }
      cur = next;
    }
    const leaf = String(to[to.length - 1]);
    if (cur[leaf] !== undefined) {
      this.error(from, `\`${to.join('.')}\` is also given; keep one`);
      return;
    }
    cur[leaf] = value;
    this.origins.set(toPointer(to), from);
  }

  /**
   * Deep copy of plain data, dropping keys that could reach Object.prototype. Data nested deeper
   * than any config is an error rather than a recursion that overflows the stack (the admin API
   * hands a client's JSON here): the deeper part is not copied.
   */
  private clone(v: unknown, at: Segment[]): unknown {
    if ((Array.isArray(v) || isPlainObject(v)) && at.length >= MAX_DEPTH) {
      this.error(at, `nested more than ${MAX_DEPTH} levels deep`);
      return undefined;
    }
    if (Array.isArray(v)) return v.map((x, i) => this.clone(x, [...at, i]));
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (isUnsafeKey(k)) this.warn([...at, k], 'unsafe key ignored');
      else if (k === '<<') this.error([...at, k], MERGE_UNSUPPORTED);
      else out[k] = this.clone(x, [...at, k]);
    }
    return out;
  }

  private error(segs: Segment[], message: string): void {
    this.problems.push({ segs, message, warning: false });
  }

  private warn(segs: Segment[], message: string): void {
    this.problems.push({ segs, message, warning: true });
  }
}
