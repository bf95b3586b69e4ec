import { BATCH_OPERATIONS } from './batch-operations';
import { WORKFLOW_OPERATIONS } from './workflow-operations';
import { DASHBOARD_OPERATIONS } from './dashboard-operations';
import type { Answer, Method, OperationDoc } from './operation-types';
import { ref } from './schema-kit';

export type { Access, Answer, Method, OperationDoc, Tag } from './operation-types';

const NDJSON = 'application/x-ndjson';
const JSON_TYPE = 'application/json';
const SSE = 'text/event-stream';

const ollamaInference = (summary: string, body: string, answer: string, streamed: boolean): OperationDoc => ({
  summary,
  tag: 'Ollama inference',
  access: 'client',
  inference: true,
  body: ref(body),
  ok: {
    200: {
      description: streamed ? 'NDJSON chunks as the node sends them (`stream: true`, the default), or one JSON answer' : 'The answer',
      schema: ref(answer),
      types: streamed ? [NDJSON, JSON_TYPE] : [JSON_TYPE],
    },
  },
});

const openAIInference = (summary: string, body: string, answer: string, streamed: boolean): OperationDoc => ({
  summary,
  tag: 'OpenAI',
  access: 'client',
  errors: 'openai',
  inference: true,
  body: ref(body),
  ok: {
    200: {
      description: streamed ? 'Server-sent events (`stream: true`), or one JSON answer' : 'The answer',
      schema: ref(answer),
      types: streamed ? [SSE, JSON_TYPE] : [JSON_TYPE],
    },
  },
});

const progress = (what: string): Answer => ({
  description: `NDJSON progress of the ${what}, merged over the nodes (one JSON object with \`stream: false\`)`,
  schema: ref('Progress'),
  types: [NDJSON, JSON_TYPE],
});

const admin = (summary: string, ok: Readonly<Record<string, Answer>>, more: Partial<OperationDoc> = {}): OperationDoc => ({ summary, tag: 'Admin', access: 'admin', ok, ...more });

/**
 * Every route the gateway serves, by the router's pattern (`:name` for a parameter), and what the
 * API document (`GET /openapi.json`) says of each. The document is built from the routes the router
 * really has, each looked up here: a route missing here fails the build of the document, and a test
 * fails on an entry here that no route serves. A `head` the router serves beside a `get` documented
 * here is documented as that `get` without its body.
 */
export const OPERATIONS: Readonly<Record<string, Partial<Record<Method, OperationDoc>>>> = {
  '/api/generate': { post: ollamaInference('Generate a completion', 'GenerateRequest', 'GenerateResponse', true) },
  '/api/chat': { post: ollamaInference('Chat', 'ChatRequest', 'ChatResponse', true) },
  '/api/embed': { post: ollamaInference('Embed one or more inputs', 'EmbedRequest', 'EmbedResponse', false) },
  '/api/embeddings': { post: ollamaInference('Embed a prompt (legacy)', 'EmbeddingsRequest', 'EmbeddingsResponse', false) },
  '/v1/chat/completions': { post: openAIInference('Chat completion', 'ChatCompletionRequest', 'ChatCompletion', true) },
  '/v1/completions': { post: openAIInference('Text completion', 'CompletionRequest', 'Completion', true) },
  '/v1/embeddings': { post: openAIInference('Embeddings', 'OpenAIEmbeddingRequest', 'OpenAIEmbeddingList', false) },

  '/api/embed/batch': {
    post: {
      summary: 'Queue documents for embedding in the background',
      description:
        'A job of `/api/embed` calls in chunks of `autobatch.jobs.chunkSize`, sent as batch-class requests. It runs as a batch job of the batch store (`batch.*`): it survives a restart and resumes where it stopped, runs `batch.concurrency` chunks at a time, is kept `batch.retentionMs` after it ends, belongs to the API key that made it, and is also visible as a batch (`/v1/batches`, `metadata.kind` `embed`) with its input file (`/v1/files`).',
      tag: 'Batch',
      access: 'client',
      body: ref('EmbedBatchRequest'),
      ok: { 202: { description: 'The job, queued', schema: ref('EmbedBatchJob') } },
      failures: { 413: 'More documents than `autobatch.jobs.maxDocs`', 503: '`autobatch.jobs.maxJobs` embedding jobs are unfinished (with Retry-After)' },
    },
  },
  '/api/batch-status': {
    get: {
      summary: "The caller's embedding batch jobs, newest first",
      tag: 'Batch',
      access: 'client',
      ok: { 200: { description: 'The jobs and their counts by status', schema: ref('EmbedBatchList') } },
    },
  },
  '/api/batch-status/:id': {
    get: {
      summary: 'One embedding batch job',
      tag: 'Batch',
      access: 'client',
      ok: { 200: { description: 'The job', schema: ref('EmbedBatchJob') } },
      failures: { 404: "No such job (never made, another API key's, or past `batch.retentionMs`)" },
    },
  },
  '/api/embed/batch/:id/results': {
    get: {
      summary: "A completed embedding batch job's vectors",
      tag: 'Batch',
      access: 'client',
      ok: { 200: { description: 'One vector per document, in order', schema: ref('EmbedBatchResults') } },
      failures: { 404: 'No such job', 409: 'The job has not completed, or failed' },
    },
  },

  '/': {
    get: {
      summary: 'Liveness, as Ollama answers it',
      tag: 'Status',
      access: 'open',
      errors: 'text',
      ok: { 200: { description: '`Ollama is running`', schema: { type: 'string' }, types: ['text/plain'] } },
    },
  },
  '/health': {
    get: {
      summary: "The pool's health, per node",
      description: 'No credentials: probes call it.',
      tag: 'Status',
      access: 'open',
      ok: { 200: { description: 'At least one node can serve', schema: ref('Health') } },
      failures: { 503: 'No node can serve (the body is the same shape, with `error`)' },
    },
  },
  '/api/health': {
    get: {
      summary: "The pool's health, per node: the same answer as `/health`",
      description: 'No credentials: probes call it. The path some pool managers probe.',
      tag: 'Status',
      access: 'open',
      ok: { 200: { description: 'At least one node can serve', schema: ref('Health') } },
      failures: { 503: 'No node can serve (the body is the same shape, with `error`)' },
    },
  },
  '/ready': {
    get: {
      summary: "The gateway's readiness",
      tag: 'Status',
      access: 'open',
      ok: { 200: { description: 'Taking requests', schema: ref('Ready') } },
      failures: { 503: 'Shutting down' },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics',
      description:
        'No credentials: scrapers call it. Includes `node_utilization{node,window}` and `load_imbalance{window}` (window `1m` or `start`), and `batch_lines{batch,state}` for the batch jobs running.',
      tag: 'Status',
      access: 'open',
      ok: { 200: { description: 'Prometheus text exposition', schema: { type: 'string' }, types: ['text/plain'] } },
      failures: { 404: 'metrics.enabled is false' },
    },
  },
  '/api/stats': {
    get: {
      summary: "The pool's statistics: per-node activity and utilization, load imbalance, the queue",
      tag: 'Status',
      access: 'client',
      ok: { 200: { description: 'Statistics', schema: ref('Stats') } },
    },
  },
  '/openapi.json': {
    get: {
      summary: 'This document',
      description: 'No credentials: it describes the API, not the pool.',
      tag: 'Docs',
      access: 'open',
      ok: { 200: { description: 'OpenAPI 3.1', schema: { type: 'object' } } },
    },
  },
  '/docs': {
    get: {
      summary: 'This document, rendered (Swagger UI)',
      tag: 'Docs',
      access: 'open',
      errors: 'text',
      ok: { 200: { description: 'An HTML page', schema: { type: 'string' }, types: ['text/html'] } },
    },
  },
  '/docs/:asset': {
    get: {
      summary: "The docs page's scripts, styles and icons",
      tag: 'Docs',
      access: 'open',
      errors: 'text',
      ok: {
        200: { description: 'The file, cached for a day (ETag)', schema: { type: 'string' }, types: ['text/javascript', 'text/css', 'image/png'] },
        304: { description: 'Not modified' },
      },
      failures: { 404: 'No such asset' },
    },
  },

  '/api/version': {
    get: {
      summary: 'The oldest Ollama version among the nodes',
      tag: 'Ollama models',
      access: 'client',
      ok: { 200: { description: 'Versions', schema: ref('VersionResponse') } },
      failures: { 503: 'No node answered' },
    },
  },
  '/api/tags': {
    get: {
      summary: 'Models installed, merged over the nodes',
      tag: 'Ollama models',
      access: 'client',
      ok: { 200: { description: 'Models', schema: ref('ModelList') } },
      failures: { 503: 'No node answered' },
    },
  },
  '/api/ps': {
    get: {
      summary: 'Models loaded, merged over the nodes',
      tag: 'Ollama models',
      access: 'client',
      ok: { 200: { description: 'Models', schema: ref('ModelList') } },
      failures: { 503: 'No node answered' },
    },
  },
  '/api/show': {
    post: {
      summary: "A model's details, from a node that has it",
      tag: 'Ollama models',
      access: 'client',
      body: ref('ShowRequest'),
      ok: { 200: { description: "The node's answer", schema: ref('ShowResponse') } },
      failures: { 404: 'No node has the model', 503: 'No node can serve' },
    },
  },
  '/api/pull': {
    post: {
      summary: 'Pull a model onto the nodes',
      tag: 'Ollama models',
      access: 'client',
      fanOut: true,
      body: ref('PullRequest'),
      ok: { 200: progress('pull') },
      failures: { 503: 'No node to pull onto' },
    },
  },
  '/api/create': {
    post: {
      summary: 'Create a model on the nodes',
      tag: 'Ollama models',
      access: 'admin',
      fanOut: true,
      body: ref('CreateRequest'),
      ok: { 200: progress('create') },
      failures: { 503: 'No node to create on' },
    },
  },
  '/api/push': {
    post: {
      summary: 'Push a model from a node that holds it',
      tag: 'Ollama models',
      access: 'admin',
      fanOut: true,
      body: ref('PushRequest'),
      ok: { 200: progress('push') },
      failures: { 404: 'No node holds the model', 503: 'No node to push from' },
    },
  },
  '/api/delete': {
    delete: {
      summary: 'Delete a model from the nodes',
      tag: 'Ollama models',
      access: 'admin',
      fanOut: true,
      body: ref('ModelRequest'),
      ok: { 200: { description: 'Deleted where it was (an empty body, as Ollama)' } },
      failures: { 404: 'No node had it', 502: 'Nodes disagreed' },
    },
  },
  '/api/copy': {
    post: {
      summary: 'Copy a model on the nodes that hold it',
      tag: 'Ollama models',
      access: 'admin',
      fanOut: true,
      body: ref('CopyRequest'),
      ok: { 200: { description: 'Copied (an empty body, as Ollama)' } },
      failures: { 404: 'No node has the source', 502: 'Nodes disagreed' },
    },
  },
  '/api/blobs/:digest': {
    head: {
      summary: 'Whether every target node has a blob',
      description: '`X-Ollama-Ring-Blob-Present` and `-Missing` list the nodes.',
      tag: 'Ollama models',
      access: 'admin',
      fanOut: true,
      ok: { 200: { description: 'Every target node has it' } },
      failures: { 400: 'Not a `sha256:<64 hex>` digest', 404: 'Some node lacks it', 503: 'No target node' },
    },
    post: {
      summary: 'Upload a blob to the target nodes that lack it',
      description: 'The body is the raw file; it must arrive within `server.blobUploadTimeoutMs`.',
      tag: 'Ollama models',
      access: 'admin',
      fanOut: true,
      ok: { 200: { description: 'Every node had it already' }, 201: { description: 'Stored on the nodes that lacked it' } },
      failures: { 400: 'A bad digest, or the digest does not match', 502: 'Nodes disagreed', 503: 'No target node' },
    },
  },
  '/v1/models': {
    get: {
      summary: 'Models, merged over the nodes',
      tag: 'OpenAI',
      access: 'client',
      errors: 'openai',
      ok: { 200: { description: 'Models', schema: ref('OpenAIModelList') } },
      failures: { 503: 'No node answered' },
    },
  },
  '/v1/models/:model': {
    get: {
      summary: 'One model',
      tag: 'OpenAI',
      access: 'client',
      errors: 'openai',
      ok: { 200: { description: 'The model', schema: ref('OpenAIModel') } },
      failures: { 404: 'No node has it', 503: 'No node answered' },
    },
  },

  ...BATCH_OPERATIONS,
  ...WORKFLOW_OPERATIONS,
  ...DASHBOARD_OPERATIONS,

  '/admin/nodes': {
    get: admin('Every node, as the scheduler holds it', { 200: { description: 'Nodes', schema: ref('NodeList') } }),
    post: admin('Add a node', { 201: { description: 'Added', schema: ref('Node') } }, { body: ref('NodeSpec'), failures: { 409: 'A node with that id exists' } }),
  },
  '/admin/nodes/:id': {
    delete: admin(
      'Remove a node (it drains first)',
      { 200: { description: 'Gone', schema: ref('NodeRemoved') }, 202: { description: 'Draining its in-flight requests', schema: ref('NodeRemoved') } },
      { failures: { 404: 'No such node' } },
    ),
  },
  '/admin/nodes/:id/enable': { post: admin('Enable a node (ends a drain too)', { 200: { description: 'The node', schema: ref('Node') } }, { failures: { 404: 'No such node' } }) },
  '/admin/nodes/:id/disable': {
    post: admin('Disable a node (it stays out across health checks)', { 200: { description: 'The node', schema: ref('Node') } }, { failures: { 404: 'No such node' } }),
  },
  '/admin/nodes/:id/drain': {
    post: admin('Drain a node: no new requests, the in-flight ones finish', { 200: { description: 'The node', schema: ref('Node') } }, { failures: { 404: 'No such node' } }),
  },
  '/admin/strategy': {
    get: admin('The strategy in use, and those available', { 200: { description: 'Strategies', schema: ref('Strategy') } }),
    post: admin('Change the strategy', { 200: { description: 'Changed', schema: ref('Strategy') } }, { body: ref('StrategyChange') }),
  },
  '/admin/reload': {
    post: admin('Re-read the config file', { 200: { description: 'Reloaded', schema: ref('Reloaded') } }, { failures: { 500: 'The file is bad; the running config stays' } }),
  },
  '/admin/queue': { get: admin('The requests waiting for a slot', { 200: { description: 'The queue', schema: ref('Queue') } }) },
};
