/**
 * Config: YAML (a superset of the Java seed's `config.yaml`), validated with errors that name the
 * key and line, env overrides (defaults < file < env), the seeds' node-list formats, zero config,
 * and hot reload. Each export below carries its own TSDoc and example.
 */
export type { ApiKeyConfig, AutobatchConfig, BalancerConfig, BucketConfig, RouteClass, RouteTimeouts, ServerTlsConfig, StrategyConfig } from './types';
export { loadConfig, parseConfig, resolveConfig, type ConfigSource, type LoadedConfig, type LoadOptions } from './load';
export { watchConfig, type ConfigWatcher, type WatchOptions } from './watch';
export { parseHostsFile, parseNodeList, parseNodesEnv } from './node-list-formats';
export { parseNodeEntry, type NodeEntry } from './node-entry';
export { defaultConfig, localNode, NODE_DEFAULTS, LOCAL_NODE_URL, LOCAL_NODE_ID, OLLAMA_DEFAULT_PORT } from './defaults';
export { readEnvOverrides, CONFIG_PATH_ENV, NODES_ENV, type EnvOverride, type EnvOverrides } from './env';
export { checkSchema, CONFIG_SCHEMA, NODE_SCHEMA, type ConfigInput, type NodeInput, type SchemaProblem } from './schema';
export { formatIssue } from './locate';
export { parseListen, type ListenAddress } from './listen';
export type { StrategyCheck } from './resolve';
