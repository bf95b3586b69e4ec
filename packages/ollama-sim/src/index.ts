/**
 * @ollama-ring/ollama-sim: a faithful Ollama server emulator with controllable timing and fault
 * injection, for tests, benchmarks and demos of the balancer.
 *
 * @example
 * ```ts
 * import { startSimPool } from '@ollama-ring/ollama-sim';
 * const pool = await startSimPool({
 *   timeScale: 0.1,
 *   models: [{ name: 'llama3.2', loadMs: 2000 }],
 *   nodes: [{ id: 'a', models: ['llama3.2'], numParallel: 2 }],
 * });
 * const url = pool.nodes[0].url;             // http://127.0.0.1:<port>
 * pool.node('a').setFaults({ failNext: { count: 1, status: 503 } });
 * await pool.close();
 * ```
 */

export { startSimPool } from './pool';
export type { SimPool, StartSimPoolOptions } from './pool';
export { SimNode } from './node';
export type { ReceivedRequest, SimNodeOptions } from './node';
export { loadSimConfig, parseSimConfig, validateSimConfig, resolveNode, DEFAULT_VERSION } from './config';
export type { ResolvedModel, ResolvedNode } from './config';
export type { ModelCapability, SimExporterConfig, SimFaults, SimModelConfig, SimNodeConfig, SimPoolConfig, SimTlsConfig } from './config-types';
export type { FaultPatch } from './faults';
export type { SimNodeState, SimLoadedModelState, SimResetOptions } from './routes/control';
export { runCli } from './cli';
export { SimError, SimConfigError, SimHttpError, SimBusyError, SimCancelledError, SimLoadError, SimClosedError, SimUnknownNodeError } from './errors';
export { Ticker, sharedTicker } from './ticker';
export type { TickTask, TickScheduler } from './ticker';
export { parseKeepAlive, parseGoDuration, FOREVER_MS } from './durations';
export { embedding, countTokens } from './text';
