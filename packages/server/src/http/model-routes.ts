import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { errorText, isModelNotFound, normalizeModel, toJson } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError } from './errors';
import { NODE_HEADER } from './http-sink';
import { compareVersions, listModels } from './model-listing';
import { canServe, readModelBody, requireClient, sendJson } from './route-util';
import type { HttpContext, Router } from './router';
import { forwardable, NodeCallError, upstreamFor } from './upstream';

/** The gateway's own version, from its package.json (two levels up from both src/http and dist/http). */
export const GATEWAY_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/**
 * The read-only Ollama model routes, answered by talking to nodes directly (not through the
 * pipeline; none of them loads a model):
 * - `GET`/`HEAD /`: `Ollama is running`, as Ollama itself (clients use it as a liveness probe);
 * - `GET`/`HEAD /api/version`: the *oldest* version among the nodes that answer, so a client that
 *   checks for a feature gets one that every node has; `ollama_ring.version` is the gateway's own and
 *   `ollama_ring.nodes` each node's. 503 when no node answers;
 * - `GET`/`HEAD /api/tags`, `GET /api/ps`: merged over the nodes that can serve, each model with
 *   `ollama_ring.nodes`; 503 when every node failed;
 * - `POST /api/show`: to a node that lists the model, then to the other serving nodes (a model
 *   pulled since the last discovery is still found); the node's answer passes through, its
 *   model-not-found 404 too. A node that lacks the route (gin's `404 page not found`) is skipped;
 *   when no node has it, the answer is that 404 in Ollama's shape.
 *
 * @example new Gateway({ factory, routes: [addModelRoutes] });
 */
export function addModelRoutes(router: Router, gw: GatewayContext): void {
  router.add(['GET', 'HEAD'], '/', ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 17 });
    res.end('Ollama is running');
  });

  router.add(['GET', 'HEAD'], '/api/version', async ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    const nodes = gw.factory.getNodeRegistry().getAllNodes().filter(canServe);
    const up = upstreamFor(gw);
    const answers = await Promise.allSettled(nodes.map((n) => up.json<{ version?: unknown }>(n, '/api/version')));
    const versions: Record<string, string> = {};
    answers.forEach((a, i) => {
      if (a.status === 'fulfilled' && typeof a.value.version === 'string') versions[nodes[i].id] = a.value.version;
    });
    const all = Object.values(versions);
    if (all.length === 0) {
      sendError(res, 503, 'no node answered /api/version', 'ollama', 5);
      return;
    }
    const oldest = all.reduce((a, b) => (compareVersions(a, b) <= 0 ? a : b));
    sendJson(res, 200, { version: oldest, ollama_ring: { version: GATEWAY_VERSION, nodes: versions } });
  });

  const listing =
    (path: '/api/tags' | '/api/ps') =>
    async ({ req, res }: HttpContext) => {
      if (!requireClient(gw, req, res, 'ollama')) return;
      const l = await listModels(gw, path);
      if (l.asked > 0 && l.failures.length === l.asked) {
        sendError(res, 503, `no node answered ${path}: ${l.failures.map((f) => f.message).join('; ')}`, 'ollama', 5);
        return;
      }
      if (l.asked === 0) {
        sendError(res, 503, 'no node can serve requests', 'ollama', 5);
        return;
      }
      sendJson(res, 200, { models: l.models });
    };
  router.add(['GET', 'HEAD'], '/api/tags', listing('/api/tags'));
  router.add('GET', '/api/ps', listing('/api/ps'));

  router.add('POST', '/api/show', async ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    const r = await readModelBody(gw, req, res);
    if (!r) return;
    const { body, model } = r;
    const key = normalizeModel(model);
    const serving = gw.factory.getNodeRegistry().getAllNodes().filter(canServe);
    if (serving.length === 0) return sendError(res, 503, 'no node can serve requests', 'ollama', 5);
    // Nodes that list the model first; the rest after, in case they have pulled it since discovery.
    const order = [...serving.filter((n) => n.models.includes(key)), ...serving.filter((n) => !n.models.includes(key))];
    const up = upstreamFor(gw);
    const payload = toJson(body);
    let notFound: { status: number; text: string; headers: Record<string, string>; node: string } | undefined;
    let noRoute: string | undefined;
    let failure: NodeCallError | undefined;
    for (const node of order) {
      try {
        const r = await up.text(node, { method: 'POST', path: '/api/show', body: payload, headers: forwardable(req.headers), kind: 'op' });
        if (isModelNotFound(r.status, r.text)) {
          notFound ??= { ...r, node: node.id };
          continue;
        }
        if (r.status === 404) {
          noRoute ??= errorText(r.text) || '404 page not found';
          continue;
        }
        return passThrough(res, r.status, r.headers, r.text, node.id);
      } catch (e) {
        if (!(e instanceof NodeCallError)) throw e;
        failure ??= e;
      }
    }
    if (notFound) return passThrough(res, notFound.status, notFound.headers, notFound.text, notFound.node);
    if (noRoute !== undefined && !failure) return sendError(res, 404, noRoute, 'ollama');
    sendError(res, failure?.status ?? 502, failure?.message ?? 'no node answered /api/show', 'ollama');
  });
}

/** Sends a node's answer as it came (hop-by-hop headers already gone), naming the node. */
function passThrough(res: ServerResponse, status: number, headers: Record<string, string>, text: string, nodeId: string): void {
  // Set apart from writeHead's headers so that the request log can read it back (getHeader).
  res.setHeader(NODE_HEADER, nodeId);
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
