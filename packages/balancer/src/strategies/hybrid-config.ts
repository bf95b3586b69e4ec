/**
 * The settings of the `hybrid` strategy as a config writes them (`strategy.hybrid`), their
 * defaults, and their compilation: weights checked and normalised, rule patterns turned into
 * regular expressions once, here, so that routing a request never compiles anything.
 */
import { normalizeModel } from '@ollama-ring/protocol';
import { priorityOf } from '../stages/validate-request';

/** The four factors of the score; any non-negative numbers, not all zero (they are normalised to sum 1). */
export interface HybridWeights {
  /** Free slots for the model over the slots it may use on the node. */
  capacity: number;
  /** Health state, breaker state and learned success rate. */
  health: number;
  /** Learned time a request of the model takes there (plus the load when the model is cold). */
  responseTime: number;
  /** What the matching `prefer` rules say of the node. */
  affinity: number;
}

/** Which nodes a rule's effect names: by id, or by any of their tags. */
export interface HybridTarget {
  nodes?: string[];
  tags?: string[];
}

/** What a request must show for a rule to apply; every condition given must hold. */
export interface HybridMatch {
  /** Glob(s) over the normalised model name (`name:tag`): `*` any run, `?` one character. */
  model?: string | string[];
  /** Exactly this priority: a number, or `high` (10), `normal` (0), `low` (-10), as requests send them. */
  priority?: number | string;
  /** At least this priority (number or name). */
  minPriority?: number | string;
  /** At most this priority (number or name). */
  maxPriority?: number | string;
  /** The request asks for every one of these node tags. */
  tags?: string[];
  /** The request's `complexity` hint is one of these (case folded). */
  complexity?: string | string[];
}

/** One affinity rule: when `match` holds, `prefer` adds to the affinity of the nodes it names, or `require` keeps only those. */
export interface HybridRule {
  /** Shown in errors; optional. */
  name?: string;
  /** Absent: every request. */
  match?: HybridMatch;
  prefer?: HybridTarget;
  require?: HybridTarget;
  /** A `prefer` rule's share of the affinity factor among the prefer rules a request matches (default 1). */
  weight?: number;
}

/** `strategy.hybrid` in the config. */
export interface HybridConfig {
  weights: HybridWeights;
  /** Response time t scores `1 / (1 + t / responseTimeScaleMs)`: 1 for instant, 0.5 at this many ms. */
  responseTimeScaleMs: number;
  rules: HybridRule[];
}

/**
 * The seed's blend: available capacity 40 %, health 30 %, response time 20 %, task affinity 10 %;
 * its response time normaliser of 10 s.
 *
 * @example defaultHybridConfig().weights.capacity; // 0.4
 */
export function defaultHybridConfig(): HybridConfig {
  return { weights: { capacity: 0.4, health: 0.3, responseTime: 0.2, affinity: 0.1 }, responseTimeScaleMs: 10_000, rules: [] };
}

/** What `HybridStrategy` and `StrategyFactory.create('hybrid', { hybrid })` take: any part of the settings; the rest are the defaults. */
export type HybridOptions = Partial<Omit<HybridConfig, 'weights'>> & { weights?: Partial<HybridWeights> };

/** A rule's target, ready to test a node against without allocating. */
export interface CompiledTarget {
  readonly nodes: ReadonlySet<string>;
  readonly tags: readonly string[];
}

/** A rule with its patterns compiled and its priorities as numbers. */
export interface CompiledRule {
  readonly label: string;
  readonly models: readonly RegExp[];
  readonly priority?: number;
  readonly minPriority?: number;
  readonly maxPriority?: number;
  readonly tags: readonly string[];
  readonly complexity: readonly string[];
  readonly effect: 'prefer' | 'require';
  readonly target: CompiledTarget;
  readonly weight: number;
}

/** Settings checked and compiled: weights sum to 1. */
export interface CompiledHybrid {
  readonly weights: Readonly<HybridWeights>;
  readonly responseTimeScaleMs: number;
  readonly rules: readonly CompiledRule[];
}

/** A problem with the settings, at a path under `strategy.hybrid`. */
export interface HybridProblem {
  segs: (string | number)[];
  message: string;
  warning: boolean;
}

const WEIGHT_KEYS = ['capacity', 'health', 'responseTime', 'affinity'] as const;
const PRIORITY_KEYS = ['priority', 'minPriority', 'maxPriority'] as const;

/**
 * Checks and compiles hybrid settings. `nodes`, when given, are the configured nodes: a rule naming
 * an id or a tag none of them has is a warning (nodes can be added at run time), not an error.
 *
 * @example
 * const { compiled, problems } = compileHybrid({ ...defaultHybridConfig(), rules: [{ match: { model: '*:32b' }, require: { tags: ['big'] } }] });
 */
export function compileHybrid(cfg: HybridConfig, nodes?: readonly { id: string; tags: readonly string[] }[]): { compiled?: CompiledHybrid; problems: HybridProblem[] } {
  const problems: HybridProblem[] = [];
  const error = (segs: (string | number)[], message: string) => problems.push({ segs, message, warning: false });
  let sum = 0;
  for (const k of WEIGHT_KEYS) {
    const w = cfg.weights[k];
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) error(['weights', k], `must be a non-negative number (got ${String(w)})`);
    else sum += w;
  }
  if (sum === 0 && !problems.length) error(['weights'], 'must not all be 0: the score would not tell nodes apart');
  if (!(cfg.responseTimeScaleMs > 0)) error(['responseTimeScaleMs'], `must be > 0 (got ${String(cfg.responseTimeScaleMs)})`);
  const rules = (cfg.rules ?? []).map((r, i) => compileRule(r, i, problems, nodes));
  if (problems.some((p) => !p.warning)) return { problems };
  const weights = {} as HybridWeights;
  for (const k of WEIGHT_KEYS) weights[k] = cfg.weights[k] / sum;
  return { compiled: { weights: Object.freeze(weights), responseTimeScaleMs: cfg.responseTimeScaleMs, rules: rules as CompiledRule[] }, problems };
}

function compileRule(r: HybridRule, i: number, problems: HybridProblem[], nodes?: readonly { id: string; tags: readonly string[] }[]): CompiledRule | undefined {
  const at: (string | number)[] = ['rules', i];
  const before = problems.length;
  const error = (segs: (string | number)[], message: string) => problems.push({ segs: [...at, ...segs], message, warning: false });
  const m = r.match ?? {};
  const models = listOf(m.model).map((p, j) => {
    if (typeof p !== 'string' || p.trim() === '') error(['match', 'model', ...(Array.isArray(m.model) ? [j] : [])], 'must be a non-empty model name or glob');
    return globToRegExp(String(p));
  });
  const prio: Partial<Record<(typeof PRIORITY_KEYS)[number], number>> = {};
  for (const k of PRIORITY_KEYS) {
    if (m[k] === undefined) continue;
    const v = priorityOf(m[k]);
    if (v === undefined) error(['match', k], `must be a number or one of high, normal, low (got ${JSON.stringify(m[k])})`);
    else prio[k] = v;
  }
  if (prio.minPriority !== undefined && prio.maxPriority !== undefined && prio.minPriority > prio.maxPriority) {
    error(['match', 'minPriority'], `must be <= match.maxPriority (${prio.maxPriority})`);
  }
  const complexity = listOf(m.complexity).map((c, j) => {
    if (typeof c !== 'string' || c.trim() === '') error(['match', 'complexity', ...(Array.isArray(m.complexity) ? [j] : [])], 'must be a non-empty string');
    return String(c).trim().toLowerCase();
  });
  const effects = (['prefer', 'require'] as const).filter((e) => r[e] !== undefined);
  if (effects.length !== 1) {
    error([], effects.length === 0 ? 'needs an effect: `prefer` or `require`' : 'has both `prefer` and `require`; a rule has one effect');
    return undefined;
  }
  const effect = effects[0];
  const t = r[effect] ?? {};
  const ids = t.nodes ?? [];
  const tags = t.tags ?? [];
  if (ids.length + tags.length === 0) error([effect], 'must name `nodes` or `tags`');
  if (r.weight !== undefined && effect === 'require') error(['weight'], 'applies to `prefer` rules only');
  if (nodes) {
    ids.forEach((id, j) => {
      if (!nodes.some((n) => n.id === id))
        problems.push({ segs: [...at, effect, 'nodes', j], message: `no configured node has id "${id}" (the rule applies once one is added)`, warning: true });
    });
    tags.forEach((tag, j) => {
      if (!nodes.some((n) => n.tags.includes(tag)))
        problems.push({ segs: [...at, effect, 'tags', j], message: `no configured node has tag "${tag}" (the rule applies once one has)`, warning: true });
    });
  }
  if (problems.slice(before).some((p) => !p.warning)) return undefined;
  return {
    label: r.name ?? `rules[${i}]`,
    models,
    ...prio,
    tags: [...(m.tags ?? [])],
    complexity,
    effect,
    target: { nodes: new Set(ids), tags: [...tags] },
    weight: r.weight ?? 1,
  };
}

function listOf<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/**
 * A model glob as an anchored expression over normalised names. A plain name is normalised as a
 * request's model is (`llama3.2` → `llama3.2:latest`), so it matches the requests for that model.
 *
 * @example globToRegExp('*:32b').test('qwen2.5-coder:32b'); // true
 */
export function globToRegExp(glob: string): RegExp {
  const g = glob.trim();
  if (!/[*?]/.test(g)) return new RegExp(`^${escape(normalizeModel(g))}$`);
  const body = g
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escape(c)))
    .join('');
  return new RegExp(`^${body}$`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
