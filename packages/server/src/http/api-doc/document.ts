import { OllamaRingError } from '@ollama-ring/protocol';
import { API_SCHEMAS } from './api-schemas';
import { BATCH_SCHEMAS } from './batch-schemas';
import { WORKFLOW_SCHEMAS } from './workflow-operations';
import { GATEWAY_SCHEMAS } from './gateway-schemas';
import { type Method, OPERATIONS, type OperationDoc } from './operations';
import { ref, type Schema } from './schema-kit';

/** A route as the router lists it (`Router.list()`). */
export interface ServedRoute {
  methods: readonly string[];
  pattern: string;
}

/** The router serves a route that `OPERATIONS` does not document (a bug, caught by the API document's test). */
export class ApiDocError extends OllamaRingError {
  static override brand = 'ERR_API_DOC';
  constructor(message: string) {
    super(ApiDocError.brand, message);
  }
}

const PARAMS: Readonly<Record<string, string>> = {
  model: 'A model name, URL-encoded (`library/llama3.2:latest`)',
  digest: "A blob's digest, `sha256:<64 hex>`",
  id: "A node's id",
  asset: 'A file name',
};

/** `:id` under the Files and Batch APIs names a file or a batch, not a node. */
function paramDescription(pattern: string, name: string): string {
  if (name === 'id' && pattern.startsWith('/v1/files/')) return "A file's id";
  if (name === 'id' && pattern.startsWith('/v1/batches/')) return "A batch's id";
  return PARAMS[name] ?? name;
}

const HINT_HEADERS: readonly [string, string][] = [
  ['X-Ollama-Ring-Priority', 'A number, or high / normal / low: the wait queue serves higher first (never above the API key’s `auth.apiKeys[].maxPriority`)'],
  ['X-Ollama-Ring-Tags', 'Comma-separated: only nodes carrying every tag'],
  ['X-Ollama-Ring-Strategy', 'The strategy for this request'],
  ['X-Ollama-Ring-Fallback-Model', 'Served instead when no node has the model'],
  ['X-Ollama-Ring-Latency-Budget-Ms', 'The latency this request can afford, ms'],
];

const PROXIED_HEADERS: Readonly<Record<string, string>> = {
  'X-Ollama-Ring-Node': 'The node that answered (comma-separated nodes for an embedding call split across them)',
  'X-Ollama-Ring-Queue-Ms': 'Time waited for a slot, ms',
  'X-Ollama-Ring-Retries': 'Retries on other nodes before this answer',
  'X-Ollama-Ring-Coalesced': 'Embeddings only (autobatch): how many requests shared the upstream call this answer came from',
};

/** The errors every route of a kind can give, besides its own. */
function impliedFailures(op: OperationDoc): Record<string, string> {
  const out: Record<string, string> = {};
  if (op.body && !op.bodyType) Object.assign(out, { 400: 'A body that is not a JSON object, or is missing a field', 413: 'A body over `validation.maxBodyBytes`' });
  if (op.access === 'client') out[401] = 'API keys are configured and none valid was given';
  if (op.access === 'admin') Object.assign(out, { 401: 'No admin token given', 403: 'A wrong admin token, or (with none configured) a client not on loopback' });
  if (op.fanOut) out[502] = 'The nodes disagreed (the body names each failure)';
  if (op.inference) {
    Object.assign(out, {
      400: 'Invalid request',
      404: "`model 'x' not found` on every node",
      408: 'The request body did not arrive in time',
      429: 'A rate limit, or the wait queue is full (`Retry-After`)',
      503: 'No node can serve, or the wait was too long (`Retry-After`)',
      504: 'Upstream timeout',
    });
  }
  return out;
}

const errorSchema = (op: OperationDoc): Schema => ref(op.errors === 'openai' ? 'OpenAIError' : 'OllamaError');

function responses(op: OperationDoc, head: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, a] of Object.entries(op.ok)) {
    const content = head || !a.schema ? undefined : Object.fromEntries((a.types ?? ['application/json']).map((t) => [t, { schema: a.schema }]));
    const headers = op.inference ? Object.fromEntries(Object.entries(PROXIED_HEADERS).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) : undefined;
    out[status] = { description: a.description, ...(content ? { content } : {}), ...(headers ? { headers } : {}) };
  }
  for (const [status, description] of Object.entries({ ...impliedFailures(op), ...op.failures })) {
    if (out[status]) continue;
    const content = head ? undefined : op.errors === 'text' ? { 'text/plain': { schema: { type: 'string' } } } : { 'application/json': { schema: errorSchema(op) } };
    out[status] = { description, ...(content ? { content } : {}) };
  }
  return out;
}

function security(op: OperationDoc): Record<string, string[]>[] {
  // The empty requirement: the route also answers without credentials (no keys or token configured).
  if (op.access === 'client') return [{ apiKey: [] }, { apiKeyHeader: [] }, {}];
  if (op.access === 'admin') return [{ adminToken: [] }, {}];
  return [];
}

function operation(pattern: string, method: Method, op: OperationDoc, head: boolean): Record<string, unknown> {
  const params: Record<string, unknown>[] = [...pattern.matchAll(/:(\w+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: paramDescription(pattern, name),
    schema: { type: 'string' },
  }));
  if (op.inference) for (const [name, description] of HINT_HEADERS) params.push({ name, in: 'header', description, schema: { type: 'string' } });
  if (op.fanOut) params.push({ name: 'X-Ollama-Ring-Nodes', in: 'header', description: 'Comma-separated node ids: only these nodes', schema: { type: 'string' } });
  return {
    operationId: operationId(method, pattern),
    summary: head ? `${op.summary} (headers only)` : op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body && !head ? { requestBody: { required: true, content: { [op.bodyType ?? 'application/json']: { schema: op.body } } } } : {}),
    responses: responses(op, head),
    security: security(op),
  };
}

function operationId(method: string, pattern: string): string {
  const words = pattern.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method + (words.length === 0 ? 'Root' : words.map((w) => w[0].toUpperCase() + w.slice(1)).join(''));
}

/** The doc of `method` on `pattern`: its own, or for a HEAD beside a documented GET, that GET's. */
function docOf(pattern: string, method: Method): { op: OperationDoc; head: boolean } | undefined {
  const ops = OPERATIONS[pattern];
  const own = ops?.[method];
  if (own) return { op: own, head: false };
  if (method === 'head' && ops?.get) return { op: ops.get, head: true };
  return undefined;
}

/**
 * The OpenAPI 3.1 document of the routes a router serves, each described by its `OPERATIONS` entry.
 * Throws ApiDocError naming every route that has none.
 *
 * @example openApiDocument(gateway.router.list(), '0.1.0').paths['/api/chat'].post.summary; // 'Chat'
 */
export function openApiDocument(routes: readonly ServedRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const missing: string[] = [];
  for (const r of routes) {
    const path = r.pattern.replace(/:(\w+)/g, '{$1}');
    for (const m of r.methods) {
      const method = m.toLowerCase() as Method;
      const d = docOf(r.pattern, method);
      if (!d) {
        missing.push(`${m} ${r.pattern}`);
        continue;
      }
      (paths[path] ??= {})[method] = operation(r.pattern, method, d.op, d.head);
    }
  }
  if (missing.length > 0) throw new ApiDocError(`routes without an entry in the API document (api-doc/operations.ts): ${missing.join(', ')}`);
  return {
    openapi: '3.1.0',
    info: {
      title: 'ollama-ring',
      version,
      description:
        "A load balancer for pools of Ollama servers. It speaks Ollama's API and OpenAI's, and adds its own status and admin routes. " +
        'Credentials: with `auth.apiKeys` configured, the Ollama and OpenAI routes need a key (`Authorization: Bearer <key>` or `X-API-Key`); ' +
        'the admin routes, `/api/delete`, `/api/copy`, `/api/create`, `/api/push` and `/api/blobs` need `auth.adminToken` (with none configured, loopback clients only); ' +
        '`/`, `/health`, `/ready`, `/metrics`, `/openapi.json`, `/docs` and the `/dashboard` page need nothing (its data, `/dashboard/events`, needs a key as `/api/stats` does).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'Ollama inference', description: 'Through the balancer: queued, routed to a node, streamed back unbuffered' },
      { name: 'OpenAI', description: "OpenAI's API, through the balancer" },
      { name: 'Ollama models', description: 'Listings merged over the nodes; management fanned out to them' },
      { name: 'Batch', description: 'Embedding jobs run in the background (held in memory)' },
      { name: 'Workflows', description: 'YAML task graphs of LLM calls, run across the pool and kept on disk' },
      { name: 'Status', description: 'Health, readiness, metrics and statistics' },
      { name: 'Admin', description: 'The pool at run time' },
      { name: 'Docs', description: 'This document' },
    ],
    paths,
    components: {
      schemas: { ...API_SCHEMAS, ...GATEWAY_SCHEMAS, ...BATCH_SCHEMAS, ...WORKFLOW_SCHEMAS },
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A client API key (`auth.apiKeys`), when keys are configured' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key, in its own header' },
        adminToken: { type: 'http', scheme: 'bearer', description: '`auth.adminToken`; with none configured, loopback clients only' },
      },
    },
  };
}

/** Every (method, pattern) that `OPERATIONS` documents, a HEAD included only where it has its own entry. */
export function documentedRoutes(): { method: string; pattern: string }[] {
  return Object.entries(OPERATIONS).flatMap(([pattern, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), pattern })));
}
