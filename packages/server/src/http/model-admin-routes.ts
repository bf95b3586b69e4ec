import type { NodeSnapshot } from '@ollama-ring/balancer';
import { normalizeModel } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError } from './errors';
import { fanOutCall, fanOutProgress, NODES_HEADER, targetNodes } from './fan-out';
import { refreshModels } from './model-sync';
import { relayProgress } from './progress-relay';
import { canServe, readJsonObject, readModelBody, requireAdmin, requireClient } from './route-util';
import type { Router } from './router';

/**
 * The Ollama model-management routes, fanned out to nodes directly (see `fan-out.ts` for how the
 * answers are merged). Targets: the nodes named by `X-Ollama-Ring-Nodes: a,b`, else every node not
 * known to be down (for `/api/create` with `from`, the nodes that list `from`, when some do).
 * - `POST /api/pull`: client API key as for inference; NDJSON progress merged over the nodes;
 * - `DELETE /api/delete`, `POST /api/copy`, `POST /api/create`: admin only (401/403), since they
 *   change what every node holds.
 * - `POST /api/push`: admin only. Every node that holds a model would upload the same thing to the
 *   same name, so it goes to one node that holds it and that node's progress stream is relayed
 *   unchanged (`X-Ollama-Ring-Node` names it); `X-Ollama-Ring-Nodes` picks the node, and naming
 *   several pushes from each, merged as for pull.
 * - `HEAD`/`POST /api/blobs/:digest`: see `blob-routes.ts`.
 * After a success the nodes' model lists are re-read, so routing knows at once.
 *
 * @example new Gateway({ factory, routes: [addModelAdminRoutes] });
 */
export function addModelAdminRoutes(router: Router, gw: GatewayContext): void {
  const sync = (ok: string[]) => refreshModels(gw, ok);

  router.add('POST', '/api/pull', async ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    const r = await readModelBody(gw, req, res);
    if (!r) return;
    const { body } = r;
    const t = targetNodes(gw, req);
    if ('error' in t) return sendError(res, t.status, t.error, 'ollama');
    await fanOutProgress(gw, req, res, { path: '/api/pull', body, nodes: t.nodes, verb: 'pull', after: sync });
  });

  router.add('POST', '/api/create', async ({ req, res }) => {
    if (!requireAdmin(gw, req, res)) return;
    const r = await readModelBody(gw, req, res);
    if (!r) return;
    const { body } = r;
    if (body.from !== undefined && typeof body.from !== 'string') return sendError(res, 400, "field 'from' must be a string", 'ollama');
    const from = typeof body.from === 'string' && body.from ? normalizeModel(body.from) : undefined;
    const t = targetNodes(gw, req, from ? (n) => n.models.includes(from) : undefined);
    if ('error' in t) return sendError(res, t.status, t.error, 'ollama');
    await fanOutProgress(gw, req, res, { path: '/api/create', body, nodes: t.nodes, verb: 'create', after: sync });
  });

  router.add('POST', '/api/push', async ({ req, res }) => {
    if (!requireAdmin(gw, req, res)) return;
    const r = await readModelBody(gw, req, res);
    if (!r) return;
    const { body, model } = r;
    const key = normalizeModel(model);
    const holds = (n: NodeSnapshot) => n.models.includes(key);
    const t = targetNodes(gw, req, holds);
    if ('error' in t) return sendError(res, t.status, t.error, 'ollama');
    if (t.nodes.length > 1 && req.headers[NODES_HEADER] !== undefined) {
      // Named explicitly: every one of them pushes, with the progress merged as for pull.
      await fanOutProgress(gw, req, res, { path: '/api/push', body, nodes: t.nodes, verb: 'push' });
      return;
    }
    // Every holder would upload the same model to the same name: one is enough. A serving holder
    // first; with no holder known, some node, whose own answer (Ollama's error) then passes through.
    const node = t.nodes.find((n) => holds(n) && canServe(n)) ?? t.nodes.find(holds) ?? t.nodes.find(canServe) ?? t.nodes[0];
    await relayProgress(gw, req, res, node, { path: '/api/push', body });
  });

  router.add('DELETE', '/api/delete', async ({ req, res }) => {
    if (!requireAdmin(gw, req, res)) return;
    const r = await readModelBody(gw, req, res);
    if (!r) return;
    const { body } = r;
    const t = targetNodes(gw, req);
    if ('error' in t) return sendError(res, t.status, t.error, 'ollama');
    await fanOutCall(gw, req, res, { method: 'DELETE', path: '/api/delete', body, nodes: t.nodes, verb: 'delete', after: sync });
  });

  router.add('POST', '/api/copy', async ({ req, res }) => {
    if (!requireAdmin(gw, req, res)) return;
    const body = await readJsonObject(gw, req, res, 'ollama');
    if (!body) return;
    for (const field of ['source', 'destination'] as const) {
      const v = body[field];
      // Not String(v): a client's array nested thousands deep overflows the stack of its join.
      if (v !== undefined && v !== null && typeof v !== 'string') {
        return sendError(res, 400, `field '${field}' must be a string (got ${Array.isArray(v) ? 'array' : typeof v})`, 'ollama');
      }
      if (!v) return sendError(res, 400, `${field} "" is invalid`, 'ollama');
    }
    const t = targetNodes(gw, req);
    if ('error' in t) return sendError(res, t.status, t.error, 'ollama');
    await fanOutCall(gw, req, res, { method: 'POST', path: '/api/copy', body, nodes: t.nodes, verb: 'copy', after: sync });
  });
}
