/**
 * Loading and checking sim configurations: YAML text or plain objects are validated (ajv for the
 * shape, then the cross-field rules), and `resolveNode` fills every default so the rest of the sim
 * never has to ask "is this set?".
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import * as yaml from 'js-yaml';
import type { ModelCapability, SimExporterConfig, SimFaults, SimModelConfig, SimNodeConfig, SimPoolConfig, SimTlsConfig } from './config-types';
import { faultsSchema, poolSchema } from './config-schema';
import { SimConfigError } from './errors';
import { parseKeepAlive } from './durations';
import { displayName, fullName, modelKey, nameKey, parseModelName } from '@ollama-ring/protocol';

export const DEFAULT_VERSION = '0.33.0';

/** A model with every field settled, as one node serves it. */
export interface ResolvedModel {
  /** The lookup key of its name (`modelKey`): one for every spelling. */
  key: string;
  /** What its generated text and embeddings are seeded by: its full name in lower case. */
  seedName: string;
  name: string;
  fullName: string;
  namespace: string;
  family: string;
  parameterSize: string;
  quantization: string;
  size: number;
  sizeVram: number;
  digest: string;
  contextLength: number;
  embeddingLength: number;
  capabilities: ModelCapability[];
  loadMs: number;
  tokensPerSec: number;
  promptTokensPerSec: number;
  /** An embedding call's fixed cost, and each input's (ms, before `timeScale`). */
  embedCallMs: number;
  embedInputMs: number;
  responseTokens: { min: number; max: number };
  modifiedAtMs: number;
  template: string;
  license?: string;
  system?: string;
}

/** A node with every field settled. */
export interface ResolvedNode {
  id: string;
  host: string;
  port: number;
  numParallel: number;
  maxLoadedModels: number;
  maxQueue: number;
  keepAliveMs: number;
  defaultNumCtx: number;
  gpu: boolean;
  checkHost: boolean;
  version: string;
  timeScale: number;
  seed: number;
  verbose: boolean;
  models: ResolvedModel[];
  /** Every catalog model this node could pull, resolved with this node's speeds. */
  pullable: Map<string, ResolvedModel>;
  preload: string[];
  faults: SimFaults;
  /** The exporter at `GET /metrics`, every field settled; undefined: none (404). */
  exporter: Required<SimExporterConfig> | undefined;
  /** HTTPS files; undefined: plain HTTP. */
  tls: SimTlsConfig | undefined;
}

const GIB = 2 ** 30;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validatePool: ValidateFunction = ajv.compile(poolSchema);
const validateFaultsShape: ValidateFunction = ajv.compile(faultsSchema);

function describe(errors: ErrorObject[] | null | undefined, prefix = ''): string[] {
  const out = new Set<string>();
  for (const e of errors ?? []) {
    // anyOf reports every failed branch; the branch errors are more useful than the summary.
    if (e.keyword === 'anyOf') continue;
    const where = `${prefix}${e.instancePath}` || '(root)';
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') msg = `has unknown field '${String(e.params.additionalProperty)}'`;
    if (e.keyword === 'enum') msg = `must be one of ${JSON.stringify(e.params.allowedValues)}`;
    out.add(`${where} ${msg}`);
  }
  return [...out];
}

/** Checks a fault patch (as `/_sim/faults` receives it). Returns the problems, empty when valid. */
export function checkFaults(value: unknown): string[] {
  if (validateFaultsShape(value)) return [];
  return describe(validateFaultsShape.errors, 'faults');
}

/**
 * Validates a configuration object. Throws `SimConfigError` listing every problem; returns the same
 * object typed when it is valid.
 */
export function validateSimConfig(value: unknown, source?: string): SimPoolConfig {
  if (!validatePool(value)) throw new SimConfigError(describe(validatePool.errors), source);
  const cfg = value as SimPoolConfig;
  const problems: string[] = [];
  const catalog = new Map<string, SimModelConfig>();
  cfg.models?.forEach((m, i) => {
    const key = nameKey(m.name);
    if (!key) problems.push(`/models/${i}/name '${m.name}' is not a valid model name`);
    else if (catalog.has(key)) problems.push(`/models/${i}/name '${m.name}' is listed twice`);
    else catalog.set(key, m);
    checkRange(m.responseTokens, `/models/${i}/responseTokens`, problems);
  });
  const ids = new Set<string>();
  const ports = new Map<string, string>();
  cfg.nodes.forEach((n, i) => {
    const at = `/nodes/${i}`;
    if (ids.has(n.id)) problems.push(`${at}/id '${n.id}' is used by another node`);
    ids.add(n.id);
    if (n.port) {
      const addr = `${n.host ?? '127.0.0.1'}:${n.port}`;
      const other = ports.get(addr);
      if (other) problems.push(`${at}/port ${addr} is also used by node '${other}'`);
      ports.set(addr, n.id);
    }
    if (n.keepAlive !== undefined) {
      try {
        parseKeepAlive(n.keepAlive);
      } catch (e) {
        problems.push(`${at}/keepAlive ${(e as Error).message}`);
      }
    }
    checkRange(n.responseTokens, `${at}/responseTokens`, problems);
    const installed = new Set<string>();
    n.models.forEach((m, j) => {
      const name = typeof m === 'string' ? m : m.name;
      const key = nameKey(name);
      if (!key) problems.push(`${at}/models/${j} '${name}' is not a valid model name`);
      else if (typeof m === 'string' && !catalog.has(key)) {
        problems.push(`${at}/models/${j} '${name}' is not in the top-level models catalog (define it there or inline)`);
      } else if (installed.has(key)) problems.push(`${at}/models/${j} '${name}' is listed twice`);
      if (key) installed.add(key);
      if (typeof m !== 'string') checkRange(m.responseTokens, `${at}/models/${j}/responseTokens`, problems);
    });
    n.preload?.forEach((p, j) => {
      const key = nameKey(p);
      if (!key || !installed.has(key)) problems.push(`${at}/preload/${j} '${p}' is not one of the node's models`);
    });
    if (n.preload && n.preload.length > (n.maxLoadedModels ?? 3)) {
      problems.push(`${at}/preload lists more models than maxLoadedModels`);
    }
  });
  if (problems.length > 0) throw new SimConfigError(problems, source);
  return cfg;
}

function checkRange(r: { min: number; max: number } | undefined, at: string, problems: string[]): void {
  if (r && r.min > r.max) problems.push(`${at} min (${r.min}) is greater than max (${r.max})`);
}

/** Parses YAML text into a validated configuration. */
export function parseSimConfig(text: string, source?: string): SimPoolConfig {
  let doc: unknown;
  try {
    // CORE_SCHEMA: plain YAML types only, no timestamps or other implicit conversions.
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    throw new SimConfigError([(e as Error).message], source);
  }
  return validateSimConfig(doc, source);
}

/** Reads and validates a YAML configuration file. */
export function loadSimConfig(path: string): SimPoolConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SimConfigError([`cannot read file: ${(e as Error).message}`], path);
  }
  return parseSimConfig(text, path);
}

const BYTES_PER_PARAM: Record<string, number> = { Q4: 0.56, Q5: 0.69, Q6: 0.82, Q8: 1.06, F16: 2, BF16: 2, F32: 4 };

function derivedSize(parameterSize: string, quantization: string): number {
  const m = /^([\d.]+)\s*([KMB])$/i.exec(parameterSize.trim());
  const params = m ? Number(m[1]) * { K: 1e3, M: 1e6, B: 1e9 }[m[2].toUpperCase() as 'K' | 'M' | 'B'] : 1e9;
  const q = Object.keys(BYTES_PER_PARAM).find((k) => quantization.toUpperCase().startsWith(k));
  return Math.round(params * (q ? BYTES_PER_PARAM[q] : 0.56));
}

/** Settles one model for one node: node entry overrides, then the catalog, then node defaults. */
export function resolveModel(entry: SimModelConfig, node: SimNodeConfig, index: number, startMs: number): ResolvedModel {
  const parsed = parseModelName(entry.name);
  if (!parsed) throw new SimConfigError([`'${entry.name}' is not a valid model name`]);
  const caps = entry.capabilities ?? ['completion'];
  const family = entry.family ?? 'llama';
  const parameterSize = entry.parameterSize ?? (caps.includes('embedding') ? '137M' : '7B');
  const quantization = entry.quantization ?? (caps.includes('embedding') ? 'F16' : 'Q4_K_M');
  const size = entry.size ?? derivedSize(parameterSize, quantization);
  const rel = entry.relativeSpeed ?? 1;
  const modified = entry.modifiedAt ? Date.parse(entry.modifiedAt) : NaN;
  return {
    key: modelKey(parsed),
    seedName: fullName(parsed).toLowerCase(),
    name: displayName(parsed),
    fullName: fullName(parsed),
    namespace: parsed.namespace,
    family,
    parameterSize,
    quantization,
    size,
    sizeVram: node.gpu === false ? 0 : size,
    digest: createHash('sha256').update(fullName(parsed)).digest('hex'),
    contextLength: entry.contextLength ?? 131072,
    embeddingLength: entry.embeddingLength ?? 768,
    capabilities: caps,
    loadMs: entry.loadMs ?? node.loadMs ?? 1000,
    tokensPerSec: entry.tokensPerSec ?? (node.tokensPerSec ?? 50) * rel,
    promptTokensPerSec: entry.promptTokensPerSec ?? (node.promptTokensPerSec ?? 1000) * rel,
    embedCallMs: entry.embedCallMs ?? node.embedCallMs ?? 0,
    embedInputMs: entry.embedInputMs ?? node.embedInputMs ?? 0,
    responseTokens: entry.responseTokens ?? node.responseTokens ?? { min: 16, max: 64 },
    // Default timestamps an hour apart in list order, so `/api/tags` order is stable and predictable.
    modifiedAtMs: Number.isFinite(modified) ? modified : startMs - index * 3_600_000,
    template: entry.template ?? '{{ .Prompt }}',
    license: entry.license,
    system: entry.system,
  };
}

/** Settles one node of a validated pool configuration. */
export function resolveNode(pool: SimPoolConfig, node: SimNodeConfig, startMs = Date.now()): ResolvedNode {
  const catalog = new Map<string, SimModelConfig>();
  for (const m of pool.models ?? []) catalog.set(nameKey(m.name) as string, m);
  const models = node.models.map((m, i) => {
    const name = typeof m === 'string' ? m : m.name;
    const base = catalog.get(nameKey(name) as string);
    const entry: SimModelConfig = typeof m === 'string' ? (base as SimModelConfig) : { ...base, ...m };
    return resolveModel(entry, node, i, startMs);
  });
  const pullable = new Map<string, ResolvedModel>();
  [...catalog.values()].forEach((m, i) => {
    const r = resolveModel(m, node, models.length + i, startMs);
    pullable.set(r.key, r);
  });
  return {
    id: node.id,
    host: node.host ?? '127.0.0.1',
    port: node.port ?? 0,
    numParallel: node.numParallel ?? 1,
    maxLoadedModels: node.maxLoadedModels ?? 3,
    maxQueue: node.maxQueue ?? 512,
    keepAliveMs: parseKeepAlive(node.keepAlive ?? '5m'),
    defaultNumCtx: node.defaultNumCtx ?? 4096,
    gpu: node.gpu ?? true,
    checkHost: node.checkHost ?? true,
    version: node.version ?? pool.version ?? DEFAULT_VERSION,
    timeScale: pool.timeScale ?? 1,
    seed: pool.seed ?? 0,
    verbose: pool.verbose ?? false,
    models,
    pullable,
    preload: (node.preload ?? []).map((p) => nameKey(p) as string),
    faults: structuredClone(node.faults ?? {}),
    exporter: node.exporter && {
      gpuFormat: node.exporter.gpuFormat ?? 'dcgm',
      cpus: node.exporter.cpus ?? 8,
      memoryBytes: node.exporter.memoryBytes ?? 64 * GIB,
      gpus: node.exporter.gpus ?? 1,
      vramBytes: node.exporter.vramBytes ?? 24 * GIB,
    },
    tls: node.tls && { ...node.tls },
  };
}
