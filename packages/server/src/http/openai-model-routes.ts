import { normalizeModel, shortestOrRaw } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError } from './errors';
import { listModels, type MergedEntry } from './model-listing';
import { requireClient, sendJson } from './route-util';
import type { Router } from './router';

/** A model in OpenAI's shape, plus the nodes that have it (clients ignore the extra field). */
export interface OpenAIModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  ollama_ring: { nodes: string[] };
}

/**
 * `GET /v1/models` (the pool's merged model list in OpenAI's shape) and `GET /v1/models/:model`
 * (one model, 404 in OpenAI's error shape when no node has it). As Ollama: `created` is the
 * model's `modified_at` in Unix seconds and `owned_by` its namespace (`library` for plain names).
 * Unlike Ollama, an empty list is `"data": []`, not `null`: OpenAI's clients expect an array.
 *
 * @example new Gateway({ factory, routes: [addOpenAIModelRoutes] });
 */
export function addOpenAIModelRoutes(router: Router, gw: GatewayContext): void {
  const models = async (): Promise<{ data: OpenAIModel[]; error?: string }> => {
    const l = await listModels(gw, '/api/tags');
    if (l.asked === 0) return { data: [], error: 'no node can serve requests' };
    if (l.failures.length === l.asked) return { data: [], error: `no node answered: ${l.failures.map((f) => f.message).join('; ')}` };
    return { data: l.models.map(toOpenAI) };
  };

  router.add('GET', '/v1/models', async ({ req, res }) => {
    if (!requireClient(gw, req, res, 'openai')) return;
    const m = await models();
    if (m.error) return sendError(res, 503, m.error, 'openai', 5);
    sendJson(res, 200, { object: 'list', data: m.data });
  });

  router.add('GET', '/v1/models/:model', async ({ req, res, params }) => {
    if (!requireClient(gw, req, res, 'openai')) return;
    const m = await models();
    if (m.error) return sendError(res, 503, m.error, 'openai', 5);
    const key = normalizeModel(params.model);
    const found = m.data.find((x) => normalizeModel(x.id) === key);
    if (!found) return sendError(res, 404, `model '${shortestOrRaw(params.model)}' not found`, 'openai');
    // Ollama echoes the id as the caller wrote it.
    sendJson(res, 200, { ...found, id: params.model });
  });
}

function toOpenAI(e: MergedEntry): OpenAIModel {
  const name = String(e.name ?? e.model ?? '');
  const parts = name.split('/');
  const modified = typeof e.modified_at === 'string' ? Date.parse(e.modified_at) : NaN;
  return {
    id: name,
    object: 'model',
    created: Number.isFinite(modified) ? Math.floor(modified / 1000) : 0,
    owned_by: parts.length >= 2 ? parts[parts.length - 2] : 'library',
    ollama_ring: { nodes: e.ollama_ring.nodes },
  };
}
