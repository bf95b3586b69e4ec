/**
 * The route table of a node: Ollama's endpoints (from the protocol package) with their handlers,
 * then the emulator's own. A known path with a wrong method gets 405, an unknown path 404, as with
 * gin.
 */
import { handleBlob, handleCopy, handleCreate, handleDelete, handlePs, handlePull, handlePush, handleRoot, handleShow, handleTags, handleVersion } from './native-models';
import { handleChat, handleEmbed, handleEmbeddings, handleGenerate } from './native';
import { handleChatCompletions, handleCompletions, handleModel, handleModels, handleOpenAIEmbeddings } from './openai';
import { handleMetrics } from './exporter';
import { type Endpoint, OLLAMA_ENDPOINTS } from '@ollama-ring/protocol';
import type { RouteHandler } from './types';

interface Route extends Endpoint {
  handler: RouteHandler;
}

/** The handler of each of Ollama's endpoints. */
const HANDLERS: Readonly<Record<string, RouteHandler>> = {
  '/': handleRoot,
  '/api/version': handleVersion,
  '/api/tags': handleTags,
  '/api/ps': handlePs,
  '/api/show': handleShow,
  '/api/generate': handleGenerate,
  '/api/chat': handleChat,
  '/api/embed': handleEmbed,
  '/api/embeddings': handleEmbeddings,
  '/api/pull': handlePull,
  '/api/push': handlePush,
  '/api/create': handleCreate,
  '/api/delete': handleDelete,
  '/api/copy': handleCopy,
  '/api/blobs/:digest': handleBlob,
  '/v1/chat/completions': handleChatCompletions,
  '/v1/completions': handleCompletions,
  '/v1/embeddings': handleOpenAIEmbeddings,
  '/v1/models': handleModels,
  '/v1/models/:model': handleModel,
};

/**
 * Endpoints Ollama does not have: the Prometheus exporter a host runs beside it (node_exporter and a
 * GPU exporter, in one page), for a node whose config has `exporter`; 404 on the others.
 */
const SIM_ROUTES: readonly Route[] = [{ methods: ['GET'], pattern: '/metrics', handler: handleMetrics }];

const ROUTES: Route[] = [...OLLAMA_ENDPOINTS.map((e) => ({ ...e, handler: HANDLERS[e.pattern] })), ...SIM_ROUTES];

export type RouteMatch = { kind: 'found'; route: Route; params: Record<string, string>; key: string } | { kind: 'method'; key: string } | { kind: 'none' };

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const colon = pattern.indexOf('/:');
  if (colon < 0) return pattern === path ? {} : undefined;
  const prefix = pattern.slice(0, colon + 1);
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  if (rest === '' || rest.includes('/')) return undefined;
  return { [pattern.slice(colon + 2)]: decodeURIComponent(rest) };
}

export function matchRoute(method: string, path: string): RouteMatch {
  let wrongMethod: string | undefined;
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, path);
    if (!params) continue;
    if (route.methods.includes(method)) return { kind: 'found', route, params, key: `${method} ${route.pattern}` };
    wrongMethod = route.pattern;
  }
  return wrongMethod ? { kind: 'method', key: `${method} ${wrongMethod}` } : { kind: 'none' };
}
