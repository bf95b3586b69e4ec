/**
 * Loading a config: file, text or object → aliases mapped → env overrides → schema → defaults →
 * cross-checks → `BalancerConfig`. Every failure is one `ConfigError` listing all issues, each
 * naming the key as written and, for files, its line.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { ConfigIssue } from '../errors';
import { ConfigError } from '../errors';
import { normalizeInput } from './aliases';
import { LOCAL_NODE_URL } from './defaults';
import { CONFIG_PATH_ENV, readEnvOverrides } from './env';
import { byLine, formatIssue, Locator } from './locate';
import { parseHostsFile, stripAssignment } from './node-list-formats';
import { isPlainObject, isUnder, isUnsafeKey, type Segment } from './paths';
import { findDuplicateIds, mergeEffective, type StrategyCheck } from './resolve';
import { checkSchema, type ConfigInput } from './schema';
import { tlsFileProblems } from './tls-files';
import type { BalancerConfig } from './types';
import { parseYamlSource, type YamlSource } from './yaml-source';

/**
 * Where a loaded config came from.
 *
 * @example loadConfig('hosts.txt').source; // { kind: 'file', file: '/abs/hosts.txt', format: 'hosts', env: [] }
 */
export interface ConfigSource {
  /** `none`: no file and no object, defaults (and env) only. */
  kind: 'file' | 'text' | 'object' | 'none';
  /** Absolute path of the file, or the name given to `parseConfig`. */
  file?: string;
  /** `hosts`: a hosts.txt; `node-list`: a bare list of nodes; `config`: a config mapping. */
  format?: 'config' | 'hosts' | 'node-list';
  /** Environment variables that changed the result, in the order applied. */
  env: string[];
}

/**
 * A loaded config, with what was ignored or doubtful along the way.
 *
 * @example const { config, warnings } = loadConfig('config.yaml'); warnings.forEach((w) => log.warn(w));
 */
export interface LoadedConfig {
  config: BalancerConfig;
  /** One line each, e.g. `config.yaml:12: server.foo: unknown key (ignored)`. */
  warnings: string[];
  source: ConfigSource;
}

/**
 * Options of `loadConfig`, `parseConfig` and `resolveConfig`.
 *
 * @example loadConfig('config.yaml', { env: {}, strategies: StrategyFactory.accepts });
 */
export interface LoadOptions {
  /** Environment for overrides; `loadConfig` defaults to `process.env`, the others to none. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Strategy names to accept: a list (aliases included) or a predicate, e.g.
   * `StrategyFactory.accepts`, which also gives the reason a seed's name is refused. Unchecked when omitted (the factory checks).
   */
  strategies?: StrategyCheck;
}

/**
 * Loads a config file (YAML/JSON config, a bare node list, or a `.txt` hosts file), an object, or
 * nothing (zero config: `OLLAMA_RING_CONFIG` if set, else one local node), then applies env
 * overrides from `options.env` (default `process.env`). Throws `ConfigError`.
 *
 * @example const { config, warnings } = loadConfig('config.yaml');
 */
export function loadConfig(pathOrObject?: string | ConfigInput | Readonly<Record<string, unknown>> | null, options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const envPath = env[CONFIG_PATH_ENV]?.trim();
  const target = pathOrObject ?? (envPath ? envPath : undefined);
  if (typeof target === 'string') return loadFile(resolvePath(target), env, options.strategies);
  if (target === undefined) return build(undefined, { kind: 'none', env: [] }, env, options.strategies);
  return build(target, { kind: 'object', env: [] }, env, options.strategies);
}

/**
 * Parses config text (YAML or JSON); `file` only names it in messages. No env overrides unless
 * `options.env` is given.
 *
 * @example parseConfig('server: { port: 9000 }\n', 'inline.yaml').config.server.port; // 9000
 */
export function parseConfig(text: string, file?: string, options: LoadOptions = {}): LoadedConfig {
  const src = parseYamlSource(stripAssignment(text.replace(/^\uFEFF/, '')), file);
  const format = Array.isArray(src.value) ? 'node-list' : 'config';
  return build(src.value, { kind: 'text', file, format, env: [] }, options.env ?? {}, options.strategies, src);
}

/**
 * Resolves an object config (the `PipelineFactory.create({...})` form): aliases accepted, defaults
 * applied, validated. No env overrides unless `options.env` is given.
 *
 * @example resolveConfig({ nodes: [{ url: 'http://10.0.0.5:11434' }] }).config.nodes[0].id; // '10.0.0.5:11434'
 */
export function resolveConfig(input: ConfigInput | Readonly<Record<string, unknown>>, options: LoadOptions = {}): LoadedConfig {
  return build(input, { kind: 'object', env: [] }, options.env ?? {}, options.strategies);
}

function loadFile(file: string, env: Readonly<Record<string, string | undefined>>, strategies?: StrategyCheck): LoadedConfig {
  return loadFileText(file, readConfigFile(file), { env, strategies });
}

/** Reads a config file as text, or throws a `ConfigError` naming it. */
export function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`cannot read config file ${file}`, [{ path: '', message: `cannot read (${code})`, file }]);
  }
}

/**
 * Loads the already-read contents of `file` as `loadConfig(file)` would (the watcher reads once,
 * compares, then loads the same text). `options.env` is used as given (none when omitted).
 */
export function loadFileText(file: string, text: string, options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? {};
  const body = text.replace(/^\uFEFF/, ''); // editors on Windows add a BOM; YAML would keep it in the first key
  if (/\.txt$/i.test(file)) {
    const nodes = parseHostsFile(body, file);
    return build({ nodes }, { kind: 'file', file, format: 'hosts', env: [] }, env, options.strategies);
  }
  const src = parseYamlSource(stripAssignment(body), file);
  const format = Array.isArray(src.value) ? 'node-list' : 'config';
  return build(src.value, { kind: 'file', file, format, env: [] }, env, options.strategies, src);
}

function build(raw: unknown, source: ConfigSource, env: Readonly<Record<string, string | undefined>>, strategies: StrategyCheck | undefined, src?: YamlSource): LoadedConfig {
  const norm = normalizeInput(raw);
  const at = new Locator(norm.origins, source.file, src);
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const p of norm.problems) (p.warning ? warnings : errors).push(at.rawIssue(p.segs, p.message));

  const fromEnv = readEnvOverrides(env);
  errors.push(...fromEnv.issues);
  const applied: string[] = [];
  for (const o of fromEnv.overrides) {
    writeAt(norm.input, o.segs, o.value, (segs) => at.setEnv(segs, o.from));
    if (!applied.includes(o.from)) applied.push(o.from);
  }

  for (const p of checkSchema(norm.input)) {
    if (isUnder(p.segs, norm.broken)) continue;
    (p.unknownKey ? warnings : errors).push(at.issue(p.segs, p.message));
  }
  for (const p of findDuplicateIds(norm.input.nodes)) errors.push(at.issue(p.segs, p.message));
  const what = `invalid config${source.file ? ` ${source.file}` : ''}`;
  if (errors.length) throw new ConfigError(what, byLine(errors));

  const merged = mergeEffective(norm.input, strategies);
  for (const p of merged.problems) (p.warning ? warnings : errors).push(at.issue(p.segs, p.message));
  // Read last: only a config otherwise valid is worth the file reads.
  if (!errors.length) for (const p of tlsFileProblems(norm.input)) errors.push(at.issue(p.segs, p.message));
  if (errors.length) throw new ConfigError(what, byLine(errors));

  const lines = byLine(warnings).map(formatIssue);
  if (merged.usedLocalNode && source.kind !== 'none') lines.push(`no nodes configured; using the local Ollama at ${LOCAL_NODE_URL}`);
  if (merged.config.nodes.length === 0) lines.push('the node list is empty: requests fail until nodes are added');
  return { config: merged.config, warnings: lines, source: { ...source, env: applied } };
}

/** Writes an env value into the mapped input; mappings merge key by key so file siblings survive. */
function writeAt(input: Record<string, unknown>, segs: Segment[], value: unknown, mark: (segs: Segment[]) => void): void {
  let cur = input;
  for (const s of segs.slice(0, -1)) {
    const k = String(s);
    if (isUnsafeKey(k)) return;
    if (!isPlainObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  const leaf = String(segs[segs.length - 1]);
  // Env values are YAML too: a `{__proto__: …}` there must not reach Object.prototype either.
  if (isUnsafeKey(leaf)) return;
  if (isPlainObject(value)) {
    if (!isPlainObject(cur[leaf])) cur[leaf] = {};
    for (const [k, v] of Object.entries(value)) writeAt(input, [...segs, k], v, mark);
    return;
  }
  cur[leaf] = value;
  mark(segs);
}
