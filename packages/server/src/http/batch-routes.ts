import { createReadStream } from 'node:fs';
import type { GatewayContext } from '../gateway-context';
import { isFinished, BATCH_ENDPOINTS } from '../batch/types';
import { batchesFor, batchOwner, freshBatches, intParam, page } from './batch-context';
import { sendError } from './errors';
import { readJsonObject, sendJson } from './route-util';
import type { Router } from './router';
import { receiveUpload } from './batch-upload';

const notFound = (what: string, id: string): string => `No such ${what} object: ${id}`;

/**
 * OpenAI's Files and Batch APIs, as its client calls them: `POST /v1/files` (multipart, `purpose:
 * batch`, streamed to disk), list, retrieve, content and delete; `POST /v1/batches`, retrieve,
 * list and cancel. Each file and batch belongs to the API key that made it: another key gets 404.
 * Errors in OpenAI's shape.
 *
 * @example new Gateway({ factory, routes: [addBatchRoutes] });
 */
export function addBatchRoutes(router: Router, gw: GatewayContext): void {
  // Opened at once, so that the jobs a previous run left unfinished resume without waiting for a client.
  batchesFor(gw).catch((e: unknown) => gw.logger.error({ err: e }, 'the batch store could not be opened'));

  router.add('POST', '/v1/files', async ({ req, res }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const b = await batchesFor(gw);
    const up = await receiveUpload(req, res, await b.store.tempPath(), gw.config().batch.maxFileBytes);
    if (!up) return;
    const rec = await b.store.addUpload(owner, up.path, { bytes: up.bytes, created_at: Math.floor(Date.now() / 1000), filename: up.filename, purpose: 'batch', expires_at: null });
    sendJson(res, 200, rec.file);
  });

  router.add('GET', '/v1/files', async ({ req, res, url }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const limit = intParam(url, 'limit', 10000, 1, 10000, res);
    if (limit === undefined) return;
    const order = url.searchParams.get('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') return sendError(res, 400, `order must be asc or desc (got '${order}')`, 'openai');
    const purpose = url.searchParams.get('purpose');
    const files = [...(await freshBatches(gw)).store.files.values()].filter((f) => f.owner === owner && (purpose === null || f.file.purpose === purpose)).map((f) => f.file);
    sendJson(res, 200, page(files, url.searchParams.get('after'), limit, order));
  });

  router.add('GET', '/v1/files/:id', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const f = (await freshBatches(gw)).store.files.get(params.id);
    if (!f || f.owner !== owner) return sendError(res, 404, notFound('File', params.id), 'openai');
    sendJson(res, 200, f.file);
  });

  router.add('GET', '/v1/files/:id/content', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const b = await freshBatches(gw);
    const f = b.store.files.get(params.id);
    if (!f || f.owner !== owner) return sendError(res, 404, notFound('File', params.id), 'openai');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.file.bytes });
    const stream = createReadStream(b.store.contentPath(f.file.id));
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });

  router.add('DELETE', '/v1/files/:id', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const b = await freshBatches(gw);
    const f = b.store.files.get(params.id);
    if (!f || f.owner !== owner) return sendError(res, 404, notFound('File', params.id), 'openai');
    const reader = [...b.store.jobs.values()].find((j) => j.batch.input_file_id === f.file.id && !isFinished(j.batch.status));
    if (reader) return sendError(res, 409, `file ${f.file.id} is the input of batch ${reader.batch.id}, which has not finished`, 'openai');
    await b.store.deleteFile(f.file.id);
    sendJson(res, 200, { id: f.file.id, object: 'file', deleted: true });
  });

  router.add('POST', '/v1/batches', async ({ req, res }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const body = await readJsonObject(gw, req, res, 'openai');
    if (!body) return;
    const { input_file_id, endpoint, completion_window, metadata } = body;
    if (typeof input_file_id !== 'string') return sendError(res, 400, 'input_file_id is required and must be a string', 'openai');
    if (typeof endpoint !== 'string' || !(endpoint in BATCH_ENDPOINTS)) {
      return sendError(res, 400, `endpoint must be one of ${Object.keys(BATCH_ENDPOINTS).join(', ')}`, 'openai');
    }
    if (completion_window !== '24h') return sendError(res, 400, "completion_window must be '24h'", 'openai');
    const meta = metadataOf(metadata);
    if (typeof meta === 'string') return sendError(res, 400, meta, 'openai');
    const b = await freshBatches(gw);
    const f = b.store.files.get(input_file_id);
    if (!f || f.owner !== owner) return sendError(res, 404, notFound('File', input_file_id), 'openai');
    if (f.file.purpose !== 'batch') return sendError(res, 400, `file ${input_file_id} has purpose '${f.file.purpose}', not 'batch'`, 'openai');
    sendJson(res, 200, await b.jobs.create(owner, { input_file_id, endpoint, completion_window, metadata: meta }));
  });

  router.add('GET', '/v1/batches', async ({ req, res, url }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const limit = intParam(url, 'limit', 20, 1, 100, res);
    if (limit === undefined) return;
    const b = await freshBatches(gw);
    const jobs = await Promise.all([...b.store.jobs.values()].filter((j) => j.owner === owner).map((j) => b.jobs.current(j)));
    sendJson(res, 200, page(jobs, url.searchParams.get('after'), limit));
  });

  router.add('GET', '/v1/batches/:id', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const b = await freshBatches(gw);
    const j = b.store.jobs.get(params.id);
    if (!j || j.owner !== owner) return sendError(res, 404, notFound('Batch', params.id), 'openai');
    sendJson(res, 200, await b.jobs.current(j));
  });

  router.add('POST', '/v1/batches/:id/cancel', async ({ req, res, params }) => {
    const owner = batchOwner(gw, req, res);
    if (owner === undefined) return;
    const b = await freshBatches(gw);
    const j = b.store.jobs.get(params.id);
    if (!j || j.owner !== owner) return sendError(res, 404, notFound('Batch', params.id), 'openai');
    if (isFinished(j.batch.status)) return sendError(res, 409, `batch ${j.batch.id} has already ended (${j.batch.status})`, 'openai');
    sendJson(res, 200, await b.jobs.cancel(j));
  });
}

/** OpenAI's metadata: up to 16 string pairs, keys up to 64 characters, values up to 512; or an error message. */
function metadataOf(v: unknown): Record<string, string> | null | string {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return 'metadata must be an object of strings';
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > 16) return 'metadata may have at most 16 keys';
  for (const [k, x] of entries) {
    if (typeof x !== 'string') return `metadata.${k} must be a string`;
    if (k.length > 64 || x.length > 512) return `metadata.${k}: keys are at most 64 characters and values 512`;
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
