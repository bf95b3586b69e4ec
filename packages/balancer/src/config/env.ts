/**
 * Environment overrides. Precedence, lowest first: defaults < config file (or object) < seed 001's
 * `GLEITZEIT_OLLAMA_*` variables < generic `OLLAMA_RING__SECTION__KEY` variables < the named
 * variables below. An empty variable counts as unset (compose files often declare `FOO=` with nothing).
 *
 * | variable                  | sets                                              |
 * |---------------------------|---------------------------------------------------|
 * | `OLLAMA_RING_CONFIG`      | the config file `loadConfig()` reads when given no path |
 * | `OLLAMA_RING_NODES`       | the whole node list: `id=url*slots,…` (id, slots optional) |
 * | `OLLAMA_RING_STRATEGY`    | `strategy.type`                                   |
 * | `OLLAMA_RING_HOST`        | `server.host`                                     |
 * | `OLLAMA_RING_PORT`        | `server.port`                                     |
 * | `OLLAMA_RING_LOG_LEVEL`   | `logging.level`                                   |
 * | `OLLAMA_RING_ADMIN_TOKEN` | `auth.adminToken`                                 |
 * | `OLLAMA_RING_BATCH_DIR`   | `batch.dataDir`                                   |
 * | `OLLAMA_RING_STATE_BACKEND` | `state.backend` (`memory` or `redis`)           |
 * | `OLLAMA_RING_REDIS_URL`   | `state.redis.url`                                 |
 * | `OLLAMA_RING__A__B=v`     | key `a.b`; segments match keys ignoring case and `_` (`HEALTH_CHECK__INTERVAL_MS` → `healthCheck.intervalMs`); `v` is read as a YAML scalar or flow collection, except for string keys, which take it verbatim |
 *
 * Seed 001 (gleitzeit) configures its pool with these; they load unchanged:
 *
 * | variable                                 | sets                                                  |
 * |------------------------------------------|-------------------------------------------------------|
 * | `GLEITZEIT_OLLAMA_INSTANCES`             | the node list: `id:url,…` (and every `OLLAMA_RING_NODES` form); `OLLAMA_RING_NODES` wins |
 * | `GLEITZEIT_OLLAMA_STRATEGY`              | `strategy.type` (`least_loaded`, … are strategy aliases) |
 * | `GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL` | `healthCheck.intervalMs`, given in seconds            |
 * | `GLEITZEIT_OLLAMA_FAILOVER`              | `false`: `retry.maxRetries: 0` (failover is how retries work here); `true`: nothing |
 */
import * as yaml from 'js-yaml';
import type { ConfigIssue } from '../errors';
import { ConfigError } from '../errors';
import { defaultConfig } from './defaults';
import { parseNodesEnv } from './node-list-formats';
import { formatPath, isPlainObject, type Segment } from './paths';

/**
 * The variable naming the config file `loadConfig()` reads when given no path.
 *
 * @example loadConfig(undefined, { env: { [CONFIG_PATH_ENV]: '/etc/ollama-ring/config.yaml' } });
 */
export const CONFIG_PATH_ENV = 'OLLAMA_RING_CONFIG';
/**
 * The variable holding the node list, which replaces any other.
 *
 * @example loadConfig(undefined, { env: { [NODES_ENV]: 'gpu=10.0.0.5:11434*4,10.0.0.6' } });
 */
export const NODES_ENV = 'OLLAMA_RING_NODES';
const GENERIC_PREFIX = 'OLLAMA_RING__';
/** Seed 001's node list variable. */
const GLEITZEIT_INSTANCES = 'GLEITZEIT_OLLAMA_INSTANCES';
/** Seed 001's entry `id:http://…`: a name, a colon, then a URL with its scheme. */
const GLEITZEIT_ENTRY = /^([^\s:/=*]+):(?=[A-Za-z][A-Za-z0-9+.-]*:\/\/)/;

const NAMED: ReadonlyArray<{ name: string; segs: Segment[]; parse?: (v: string) => unknown }> = [
  { name: 'OLLAMA_RING_STRATEGY', segs: ['strategy', 'type'] },
  { name: 'OLLAMA_RING_HOST', segs: ['server', 'host'] },
  // A non-numeric port stays a string, so the schema reports it against the variable.
  { name: 'OLLAMA_RING_PORT', segs: ['server', 'port'], parse: (v) => (/^\d+$/.test(v.trim()) ? Number(v) : v) },
  { name: 'OLLAMA_RING_LOG_LEVEL', segs: ['logging', 'level'], parse: (v) => v.trim().toLowerCase() },
  { name: 'OLLAMA_RING_ADMIN_TOKEN', segs: ['auth', 'adminToken'] },
  { name: 'OLLAMA_RING_BATCH_DIR', segs: ['batch', 'dataDir'] },
  { name: 'OLLAMA_RING_STATE_BACKEND', segs: ['state', 'backend'], parse: (v) => v.trim().toLowerCase() },
  { name: 'OLLAMA_RING_REDIS_URL', segs: ['state', 'redis', 'url'] },
];

/**
 * One value to write into the alias-mapped input.
 *
 * @example const o: EnvOverride = { segs: ['server', 'port'], value: 9000, from: 'OLLAMA_RING_PORT' };
 */
export interface EnvOverride {
  segs: Segment[];
  value: unknown;
  /** The variable it came from. */
  from: string;
}

/**
 * What the environment asks for; `issues` are variables that could not be read.
 *
 * @example const { overrides, issues } = readEnvOverrides(process.env);
 */
export interface EnvOverrides {
  overrides: EnvOverride[];
  issues: ConfigIssue[];
}

/**
 * Reads the overrides, in the order they must be applied (generic ones sorted by name, then the
 * named ones, then the node list).
 *
 * @example readEnvOverrides({ OLLAMA_RING_PORT: '9000' }).overrides; // [{ segs: ['server','port'], value: 9000, from: 'OLLAMA_RING_PORT' }]
 */
export function readEnvOverrides(env: Readonly<Record<string, string | undefined>>): EnvOverrides {
  const overrides: EnvOverride[] = [];
  const issues: ConfigIssue[] = [];
  const set = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };

  // Seed 001's variables first: every variable of ours is applied after them, and so wins.
  for (const r of gleitzeitOverrides(set)) {
    if ('issue' in r) issues.push(r.issue);
    else overrides.push(r);
  }

  const generic = Object.keys(env)
    .filter((k) => k.startsWith(GENERIC_PREFIX) && set(k) !== undefined)
    .sort();
  for (const name of generic) {
    const r = genericOverride(name, set(name) as string);
    if ('issue' in r) issues.push(r.issue);
    else overrides.push(r);
  }

  for (const n of NAMED) {
    const v = set(n.name);
    if (v !== undefined) overrides.push({ segs: n.segs, value: n.parse ? n.parse(v) : v, from: n.name });
  }

  const nodes = set(NODES_ENV);
  if (nodes !== undefined) {
    try {
      overrides.push({ segs: ['nodes'], value: parseNodesEnv(nodes, NODES_ENV), from: NODES_ENV });
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  }
  return { overrides, issues };
}

type Read = (name: string) => string | undefined;

/** The overrides seed 001's `GLEITZEIT_OLLAMA_*` variables ask for, or an issue naming the variable. */
function gleitzeitOverrides(set: Read): (EnvOverride | { issue: ConfigIssue })[] {
  const out: (EnvOverride | { issue: ConfigIssue })[] = [];
  const fail = (name: string, path: string, message: string) => out.push({ issue: { path, message, file: `env:${name}` } });
  const strategy = set('GLEITZEIT_OLLAMA_STRATEGY');
  if (strategy !== undefined) out.push({ segs: ['strategy', 'type'], value: strategy.trim(), from: 'GLEITZEIT_OLLAMA_STRATEGY' });
  const interval = set('GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL');
  if (interval !== undefined) {
    const seconds = Number(interval.trim());
    if (Number.isFinite(seconds) && seconds > 0) {
      out.push({ segs: ['healthCheck', 'intervalMs'], value: Math.round(seconds * 1000), from: 'GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL' });
    } else fail('GLEITZEIT_OLLAMA_HEALTH_CHECK_INTERVAL', 'healthCheck.intervalMs', `must be a number of seconds > 0 (got "${interval}")`);
  }
  const failover = set('GLEITZEIT_OLLAMA_FAILOVER');
  if (failover !== undefined) {
    const v = failover.trim().toLowerCase();
    if (v === 'false') out.push({ segs: ['retry', 'maxRetries'], value: 0, from: 'GLEITZEIT_OLLAMA_FAILOVER' });
    else if (v !== 'true') fail('GLEITZEIT_OLLAMA_FAILOVER', 'retry.maxRetries', `must be true or false (got "${failover}")`);
  }
  const instances = set(GLEITZEIT_INSTANCES);
  if (instances !== undefined) {
    // `id:url` becomes our `id=url`; every other entry form of OLLAMA_RING_NODES is read as there.
    const entries = instances
      .split(/[,\s]+/)
      .filter((e) => e !== '')
      .map((e) => e.replace(GLEITZEIT_ENTRY, '$1='));
    try {
      out.push({ segs: ['nodes'], value: parseNodesEnv(entries.join(','), GLEITZEIT_INSTANCES), from: GLEITZEIT_INSTANCES });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const issue of err.issues) out.push({ issue });
    }
  }
  return out;
}

function genericOverride(name: string, raw: string): EnvOverride | { issue: ConfigIssue } {
  const parts = name.slice(GENERIC_PREFIX.length).split('__');
  const fail = (message: string): { issue: ConfigIssue } => ({ issue: { path: parts.join('.'), message, file: `env:${name}` } });
  const canon = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const segs: Segment[] = [];
  let shape: unknown = defaultConfig();
  for (const part of parts) {
    if (!isPlainObject(shape)) {
      return fail(`\`${formatPath(segs)}\` has no sub-keys${segs[0] === 'nodes' ? ` (set the node list with ${NODES_ENV})` : ''}`);
    }
    const key = Object.keys(shape).find((k) => canon(k) === canon(part));
    if (key === undefined) return fail(`no such config key "${part}"${segs.length ? ` under ${formatPath(segs)}` : ''}`);
    segs.push(key);
    shape = shape[key];
  }
  if (typeof shape === 'string') return { segs, value: raw, from: name };
  try {
    return { segs, value: yaml.load(raw, { schema: yaml.CORE_SCHEMA }), from: name };
  } catch (err) {
    return fail(`cannot read the value as YAML: ${err instanceof yaml.YAMLException ? err.reason : String(err)}`);
  }
}
