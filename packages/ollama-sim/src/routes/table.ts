/**
 * The route table of a node, as Ollama registers its routes with gin: a known path with a wrong
 * method gets 405, an unknown path 404.
 */
import {
  handleBlob,
  handleCopy,
  handleCreate,
  handleDelete,
  handlePs,
  handlePull,
  handlePush,
  handleRoot,
  handleShow,
  handleTags,
  handleVersion,
} from './native-models';
import { handleChat, handleEmbed, handleEmbeddings, handleGenerate } from './native';
import { handleChatCompletions, handleCompletions, handleModel, handleModels, handleOpenAIEmbeddings } from './openai';
import type { ErrorStyle, RouteHandler } from './types';

interface Route {
  methods: readonly string[];
  /** A literal path, or one ending in `/:param` for a single trailing segment. */
  pattern: string;
  handler: RouteHandler;
  style: ErrorStyle;
}

const GET_HEAD = ['GET', 'HEAD'] as const;

const ROUTES: Route[] = [
  { methods: GET_HEAD, pattern: '/', handler: handleRoot, style: 'native' },
  { methods: GET_HEAD, pattern: '/api/version', handler: handleVersion, style: 'native' },
  { methods: GET_HEAD, pattern: '/api/tags', handler: handleTags, style: 'native' },
  { methods: ['GET'], pattern: '/api/ps', handler: handlePs, style: 'native' },
  { methods: ['POST'], pattern: '/api/show', handler: handleShow, style: 'native' },
  { methods: ['POST'], pattern: '/api/generate', handler: handleGenerate, style: 'native' },
  { methods: ['POST'], pattern: '/api/chat', handler: handleChat, style: 'native' },
  { methods: ['POST'], pattern: '/api/embed', handler: handleEmbed, style: 'native' },
  { methods: ['POST'], pattern: '/api/embeddings', handler: handleEmbeddings, style: 'native' },
  { methods: ['POST'], pattern: '/api/pull', handler: handlePull, style: 'native' },
  { methods: ['POST'], pattern: '/api/push', handler: handlePush, style: 'native' },
  { methods: ['POST'], pattern: '/api/create', handler: handleCreate, style: 'native' },
  { methods: ['DELETE'], pattern: '/api/delete', handler: handleDelete, style: 'native' },
  { methods: ['POST'], pattern: '/api/copy', handler: handleCopy, style: 'native' },
  { methods: ['HEAD', 'POST'], pattern: '/api/blobs/:digest', handler: handleBlob, style: 'native' },
  { methods: ['POST'], pattern: '/v1/chat/completions', handler: handleChatCompletions, style: 'openai' },
  { methods: ['POST'], pattern: '/v1/completions', handler: handleCompletions, style: 'openai' },
  { methods: ['POST'], pattern: '/v1/embeddings', handler: handleOpenAIEmbeddings, style: 'openai' },
  { methods: ['GET'], pattern: '/v1/models', handler: handleModels, style: 'openai' },
  { methods: ['GET'], pattern: '/v1/models/:model', handler: handleModel, style: 'openai' },
];

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string>; key: string }
  | { kind: 'method'; key: string }
  | { kind: 'none' };

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

/** Which error body a path would get if it failed. */
export function errorStyleOf(path: string): ErrorStyle {
  return path.startsWith('/v1/') ? 'openai' : 'native';
}
