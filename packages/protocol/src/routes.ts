/**
 * Ollama's HTTP routes: the endpoint table (methods and paths, as Ollama registers them with gin),
 * the inference routes a balancer proxies, and which API shape (Ollama's or OpenAI's) a path
 * answers errors in.
 */

/** Which API shape a path answers in: Ollama's native one, or its OpenAI-compatible layer (`/v1/…`). */
export type ErrorFlavor = 'ollama' | 'openai';

/** The API shape of a path: OpenAI's for `/v1/…`, Ollama's otherwise. */
export function flavorOfPath(path: string): ErrorFlavor {
  return path.startsWith('/v1/') ? 'openai' : 'ollama';
}

/**
 * The inference routes: the ones a balancer schedules onto a node. The numbers are stable (they
 * travel in ring records).
 */
export enum Route {
  Generate = 1,
  Chat = 2,
  Embed = 3,
  Embeddings = 4,
  OpenAIChat = 5,
  OpenAICompletions = 6,
  OpenAIEmbeddings = 7,
}

/** The path of each inference route, on a node as on a gateway. */
export const ROUTE_PATHS: Readonly<Record<Route, string>> = {
  [Route.Generate]: '/api/generate',
  [Route.Chat]: '/api/chat',
  [Route.Embed]: '/api/embed',
  [Route.Embeddings]: '/api/embeddings',
  [Route.OpenAIChat]: '/v1/chat/completions',
  [Route.OpenAICompletions]: '/v1/completions',
  [Route.OpenAIEmbeddings]: '/v1/embeddings',
};

/** Every inference route, in enum order (all are POST). */
export const INFERENCE_ROUTES: readonly Route[] = [Route.Generate, Route.Chat, Route.Embed, Route.Embeddings, Route.OpenAIChat, Route.OpenAICompletions, Route.OpenAIEmbeddings];

/** True for the embedding routes (`/api/embed`, `/api/embeddings`, `/v1/embeddings`); every other route generates text. */
export function isEmbeddingRoute(route: Route): boolean {
  return route === Route.Embed || route === Route.Embeddings || route === Route.OpenAIEmbeddings;
}

/** True for routes whose errors and streams use OpenAI's shapes (SSE, `{"error":{...}}`). */
export function isOpenAIRoute(route: Route): boolean {
  return route >= Route.OpenAIChat;
}

/** One endpoint of Ollama's route table. */
export interface Endpoint {
  methods: readonly string[];
  /** A literal path, or one ending in `/:param` for a single trailing segment. */
  pattern: string;
}

const GET_HEAD = ['GET', 'HEAD'] as const;

/**
 * Ollama's route table (`server/routes.go` `GenerateRoutes`): a known path with a wrong method
 * gets 405, an unknown path 404.
 */
export const OLLAMA_ENDPOINTS: readonly Endpoint[] = [
  { methods: GET_HEAD, pattern: '/' },
  { methods: GET_HEAD, pattern: '/api/version' },
  { methods: GET_HEAD, pattern: '/api/tags' },
  { methods: ['GET'], pattern: '/api/ps' },
  { methods: ['POST'], pattern: '/api/show' },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.Generate] },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.Chat] },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.Embed] },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.Embeddings] },
  { methods: ['POST'], pattern: '/api/pull' },
  { methods: ['POST'], pattern: '/api/push' },
  { methods: ['POST'], pattern: '/api/create' },
  { methods: ['DELETE'], pattern: '/api/delete' },
  { methods: ['POST'], pattern: '/api/copy' },
  { methods: ['HEAD', 'POST'], pattern: '/api/blobs/:digest' },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.OpenAIChat] },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.OpenAICompletions] },
  { methods: ['POST'], pattern: ROUTE_PATHS[Route.OpenAIEmbeddings] },
  { methods: ['GET'], pattern: '/v1/models' },
  { methods: ['GET'], pattern: '/v1/models/:model' },
];
