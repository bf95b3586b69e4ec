/** JSON Schema of the sim configuration; ajv checks YAML and programmatic configs against it. */

const positive = { type: 'number', exclusiveMinimum: 0 } as const;
const nonNegative = { type: 'number', minimum: 0 } as const;
const count = { type: 'integer', minimum: 0 } as const;
const tokenRange = {
  type: 'object',
  additionalProperties: false,
  required: ['min', 'max'],
  properties: { min: count, max: count },
} as const;
const stringList = { type: 'array', items: { type: 'string' } } as const;

const modelSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    family: { type: 'string' },
    parameterSize: { type: 'string' },
    quantization: { type: 'string' },
    size: count,
    contextLength: { type: 'integer', minimum: 1 },
    embeddingLength: { type: 'integer', minimum: 1 },
    capabilities: {
      type: 'array',
      items: { type: 'string', enum: ['completion', 'tools', 'thinking', 'embedding', 'insert', 'vision'] },
    },
    loadMs: nonNegative,
    tokensPerSec: positive,
    promptTokensPerSec: positive,
    embedCallMs: { type: 'number', minimum: 0 },
    embedInputMs: { type: 'number', minimum: 0 },
    relativeSpeed: positive,
    responseTokens: tokenRange,
    modifiedAt: { type: 'string' },
    template: { type: 'string' },
    license: { type: 'string' },
    system: { type: 'string' },
  },
} as const;

export const faultsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    failNext: {
      type: 'object',
      additionalProperties: false,
      required: ['status'],
      properties: {
        count: count,
        status: { type: 'integer', minimum: 100, maximum: 599 },
        message: { type: 'string' },
        paths: stringList,
      },
    },
    errorMidStream: {
      type: 'object',
      additionalProperties: false,
      required: ['afterTokens'],
      properties: { afterTokens: count, message: { type: 'string' }, count: count },
    },
    hang: {
      type: 'object',
      additionalProperties: false,
      properties: { count: count, afterTokens: count, paths: stringList },
    },
    slowdown: positive,
    closeMidStream: {
      type: 'object',
      additionalProperties: false,
      required: ['afterTokens'],
      properties: { afterTokens: count, count: count },
    },
    failLoad: {
      type: 'object',
      additionalProperties: false,
      properties: { message: { type: 'string' }, count: count },
    },
    refuse: { type: 'object', additionalProperties: false, properties: { forMs: nonNegative } },
    tagsOverride: stringList,
    psOverride: stringList,
  },
} as const;

const nodeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'models'],
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    numParallel: { type: 'integer', minimum: 1 },
    maxLoadedModels: { type: 'integer', minimum: 1 },
    maxQueue: count,
    keepAlive: { type: ['string', 'number'] },
    defaultNumCtx: { type: 'integer', minimum: 1 },
    tokensPerSec: positive,
    promptTokensPerSec: positive,
    embedCallMs: { type: 'number', minimum: 0 },
    embedInputMs: { type: 'number', minimum: 0 },
    loadMs: nonNegative,
    responseTokens: tokenRange,
    gpu: { type: 'boolean' },
    models: { type: 'array', items: { anyOf: [{ type: 'string', minLength: 1 }, modelSchema] } },
    preload: stringList,
    faults: faultsSchema,
    checkHost: { type: 'boolean' },
    version: { type: 'string' },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key'],
      properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 }, ca: { type: 'string', minLength: 1 } },
    },
    exporter: {
      type: 'object',
      additionalProperties: false,
      properties: {
        gpuFormat: { type: 'string', enum: ['dcgm', 'nvidia-smi'] },
        cpus: { type: 'integer', minimum: 1 },
        memoryBytes: positive,
        gpus: { type: 'integer', minimum: 1 },
        vramBytes: positive,
      },
    },
  },
} as const;

export const poolSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['nodes'],
  properties: {
    timeScale: positive,
    seed: { type: 'integer' },
    version: { type: 'string' },
    verbose: { type: 'boolean' },
    models: { type: 'array', items: modelSchema },
    nodes: { type: 'array', minItems: 1, items: nodeSchema },
  },
} as const;
