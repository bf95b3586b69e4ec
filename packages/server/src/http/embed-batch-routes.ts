import { Route, embedCallOf, toJson } from '@ollama-ring/protocol';
import { EmbedJobs } from '../batch/embed-jobs';
import type { GatewayContext } from '../gateway-context';
import { batchesFor, batchOwner } from './batch-context';
import { sendError, sendThrown } from './errors';
import { readJsonObject, sendJson } from './route-util';
import type { Router } from './router';

const encoder = new TextEncoder();
const jobsOf = new WeakMap<GatewayContext, Promise<EmbedJobs>>();

/** The gateway's embedding jobs, on its batch service (opened on the first call). */
function embedJobsFor(gw: GatewayContext): Promise<EmbedJobs> {
  let j = jobsOf.get(gw);
  if (!j) {
    j = batchesFor(gw).then((b) => new EmbedJobs(b, () => gw.config()));
    jobsOf.set(gw, j);
  }
  return j;
}

/**
 * The background embedding jobs (`autobatch.jobs`, run as durable batch jobs: see `EmbedJobs`):
 * `POST /api/embed/batch` queues documents (`{model, docs, truncate?, dimensions?, keep_alive?,
 * options?}`, the `/api/embed` fields with the documents as `docs`) and answers 202 with the job;
 * `GET /api/batch-status` lists the caller's jobs, `GET /api/batch-status/:id` shows one, and
 * `GET /api/embed/batch/:id/results` gives a completed job's vectors (409 before it completes or
 * when it failed). Each job belongs to the API key that made it, as a batch does.
 */
export function addEmbedBatchRoutes(router: Router, gw: GatewayContext): void {
  // Opened at once, so that the jobs a previous run left unfinished resume without waiting for a client.
  batchesFor(gw).catch((e: unknown) => gw.logger.error({ err: e }, 'the batch store could not be opened'));

  router.add('POST', '/api/embed/batch', async ({ req, res }) => {
    const owner = batchOwner(gw, req, res, 'ollama');
    if (owner === undefined) return;
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
      const job = await (await embedJobsFor(gw)).submit(owner, call);
      sendJson(res, 202, { ...job, status_url: `/api/batch-status/${job.id}`, results_url: `/api/embed/batch/${job.id}/results` });
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
  router.add('GET', '/api/batch-status', async ({ req, res }) => {
    const owner = batchOwner(gw, req, res, 'ollama');
    if (owner === undefined) return;
    try {
      const { jobs, counts } = await (await embedJobsFor(gw)).list(owner);
      sendJson(res, 200, { counts, jobs, persistent: true });
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
  router.add('GET', '/api/batch-status/:id', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res, 'ollama');
    if (owner === undefined) return;
    try {
      sendJson(res, 200, await (await embedJobsFor(gw)).get(owner, params.id));
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
  router.add('GET', '/api/embed/batch/:id/results', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res, 'ollama');
    if (owner === undefined) return;
    try {
      sendJson(res, 200, await (await embedJobsFor(gw)).results(owner, params.id));
    } catch (e) {
      sendThrown(res, e, 'ollama');
    }
  });
}
