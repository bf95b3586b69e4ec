import { INFERENCE_ROUTES, OLLAMA_ENDPOINTS, ROUTE_PATHS, Route, flavorOfPath, isOpenAIRoute } from '@ollama-ring/protocol';

describe('routes', () => {
  test('every inference route is a POST endpoint of Ollama', () => {
    for (const r of INFERENCE_ROUTES) {
      const e = OLLAMA_ENDPOINTS.find((x) => x.pattern === ROUTE_PATHS[r]);
      expect(e?.methods).toEqual(['POST']);
    }
  });

  test('the OpenAI routes are the /v1 ones, and answer in OpenAI shapes', () => {
    for (const r of INFERENCE_ROUTES) {
      expect(isOpenAIRoute(r)).toBe(ROUTE_PATHS[r].startsWith('/v1/'));
      expect(flavorOfPath(ROUTE_PATHS[r])).toBe(isOpenAIRoute(r) ? 'openai' : 'ollama');
    }
    expect(isOpenAIRoute(Route.OpenAIChat)).toBe(true);
    expect(flavorOfPath('/v1/models/x')).toBe('openai');
    expect(flavorOfPath('/api/tags')).toBe('ollama');
  });

  test('route numbers are stable (they travel in ring records)', () => {
    expect([Route.Generate, Route.Chat, Route.Embed, Route.Embeddings, Route.OpenAIChat, Route.OpenAICompletions, Route.OpenAIEmbeddings]).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
