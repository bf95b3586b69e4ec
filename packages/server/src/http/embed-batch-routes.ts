import { Route, embedCallOf, toJson } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError, sendThrown } from './errors';
import { readJsonObject, requireClient, sendJson } from './route-util';
import type { Router } from './router';

const encoder = new TextEncoder();

/**
 * The background embedding jobs (`autobatch.jobs`): `POST /api/embed/batch` queues documents
 * (`{model, docs, truncate?, dimensions?, keep_alive?, options?}`, the `/api/embed` fields with the
 * documents as `docs`) and answers 202 with the job; `GET /api/batch-status` lists the jobs held,
 * `GET /api/batch-status/:id` shows one, and `GET /api/embed/batch/:id/results` gives a completed
 * job's vectors (409 before it completes or when it failed). Jobs live in memory: a restart loses them.
 */
export function addEmbedBatchRoutes(router: Router, gw: GatewayContext): void {
  const jobs = () => gw.factory.getAutobatch().jobs;
  router.add('POST', '/api/embed/batch', async ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    const body = await readJsonObject(gw, req, res, 'ollama');
    if (!body) return;
    const { docs, ...rest } = body;
    // The documents are judged as an /api/embed call's input would be, with the same other fields.
    const call = embedCallOf(Route.Embed, encoder.encode(toJson({ ...rest, input: docs })));
    if (call === undefined || Array.isArray(docs) === false) {
      sendError(
        res,
        400,
        'a batch job needs a non-empty "model" and "docs", a non-empty list of non-empty strings; other fields: truncate, dimensions, keep_alive, options',
        'ollama',
      );
      return;
    }
    try {
      const job = jobs().submit(call);
      sendJson(res, 202, { ...job, status_url: `/api/batch-status/${job.id}`, results_url: `/api/embed/batch/${job.id}/results` });
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
  router.add('GET', '/api/batch-status', ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    const { jobs: list, counts } = jobs().list();
    sendJson(res, 200, { counts, jobs: list, persistent: false });
  });
  router.add('GET', '/api/batch-status/:id', ({ req, res, params }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    try {
      sendJson(res, 200, jobs().get(params.id));
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
  router.add('GET', '/api/embed/batch/:id/results', ({ req, res, params }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    try {
      sendJson(res, 200, jobs().results(params.id));
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
}
