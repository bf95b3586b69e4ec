/**
 * The config `serve` runs with: a config file (or zero config), optionally a hosts file whose node
 * list replaces the file's, and `--port`/`--host` on top. Precedence, lowest first: defaults <
 * file < environment < hosts file < flags. Both files are watched; a good edit of either recomposes
 * the whole and applies it, a bad one keeps the last good config.
 */
import { type BalancerConfig, type ConfigWatcher, type LoadedConfig, loadConfig, StrategyFactory, watchConfig } from '@ollama-ring/balancer';

export interface ServeSources {
  /** `--config`; when absent, `OLLAMA_RING_CONFIG` or the zero-config pool. */
  config?: string;
  /** `--hosts`: a hosts.txt (or YAML node list) whose nodes replace the config's. */
  hosts?: string;
  port?: number;
  host?: string;
}

export interface ComposedConfig {
  config: BalancerConfig;
  warnings: string[];
  /** The files the config came from (to watch), absolute. */
  configFile?: string;
  hostsFile?: string;
  /** Environment variables that changed the result. */
  env: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** Strategy names the factory knows, so a typo is a config error with a line, not a crash later. */
const knownStrategy = StrategyFactory.accepts;

/** Loads and composes; throws `ConfigError` (key and line in the message) on any bad input. */
export function composeConfig(src: ServeSources, env: Env): ComposedConfig {
  const base = loadConfig(src.config, { env, strategies: knownStrategy });
  // Env does not apply to the hosts file: it is a flag, and flags beat the environment.
  const hosts = src.hosts !== undefined ? loadConfig(src.hosts, { env: {}, strategies: knownStrategy }) : undefined;
  return combine(src, base, hosts);
}

function combine(src: ServeSources, base: LoadedConfig, hosts: LoadedConfig | undefined): ComposedConfig {
  const config: BalancerConfig = { ...base.config, server: { ...base.config.server } };
  if (hosts) config.nodes = hosts.config.nodes;
  if (src.port !== undefined) config.server.port = src.port;
  if (src.host !== undefined) config.server.host = src.host;
  // The zero-config warning of the base file is moot when the hosts file supplies the nodes.
  const baseWarnings = hosts ? base.warnings.filter((w) => !w.startsWith('no nodes configured')) : base.warnings;
  return {
    config,
    warnings: [...baseWarnings, ...(hosts?.warnings ?? [])],
    configFile: base.source.kind === 'file' ? base.source.file : undefined,
    hostsFile: hosts?.source.file,
    env: base.source.env,
  };
}

export interface ServeWatch {
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Watches the files behind `initial` and calls `onChange` with each new composed config; a file that
 * fails to load goes to `onError` and the last good version of it stays.
 */
export function watchServeConfig(
  src: ServeSources,
  initial: ComposedConfig,
  env: Env,
  onChange: (next: ComposedConfig, file: string) => void,
  onError: (err: Error, file: string) => void,
): ServeWatch {
  const watchers: ConfigWatcher[] = [];
  let base: LoadedConfig | undefined;
  let hosts: LoadedConfig | undefined;
  const current = (): ComposedConfig | undefined => (base ? combine(src, base, src.hosts !== undefined ? hosts : undefined) : undefined);

  if (initial.configFile) {
    const file = initial.configFile;
    const w = watchConfig(
      file,
      (_c, loaded) => {
        base = loaded;
        const next = current();
        if (next) onChange(next, file);
      },
      (e) => onError(e, file),
      { env, strategies: knownStrategy },
    );
    base = w.current();
    watchers.push(w);
  } else {
    // No file: the base is fixed (zero config and env), only the hosts file can change.
    base = loadConfig(undefined, { env, strategies: knownStrategy });
  }
  if (initial.hostsFile) {
    const file = initial.hostsFile;
    const w = watchConfig(
      file,
      (_c, loaded) => {
        hosts = loaded;
        const next = current();
        if (next) onChange(next, file);
      },
      (e) => onError(e, file),
      { env: {}, strategies: knownStrategy },
    );
    hosts = w.current();
    watchers.push(w);
  }
  return {
    ready: Promise.all(watchers.map((w) => w.ready)).then(() => undefined),
    close: () => Promise.all(watchers.map((w) => w.close())).then(() => undefined),
  };
}
