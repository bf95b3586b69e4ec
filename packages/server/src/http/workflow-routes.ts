import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WorkflowError } from '@ollama-ring/balancer';
import type { GatewayContext } from '../gateway-context';
import { ownerOf } from '../batch/service';
import { type WorkflowRequest, WorkflowService } from '../workflow/service';
import type { WorkflowRecord } from '../workflow/store';
import { clientIdentity } from './auth';
import { sendError } from './errors';
import { readJsonObject, sendJson } from './route-util';
import type { Router } from './router';

const services = new WeakMap<GatewayContext, Promise<WorkflowService>>();

/**
 * The gateway's workflow service, opened (and its unfinished runs resumed) when the routes are
 * added, under `batch.dataDir` (`workflows/`), where the batch jobs keep theirs.
 */
export function workflowsFor(gw: GatewayContext): Promise<WorkflowService> {
  let s = services.get(gw);
  if (!s) {
    s = WorkflowService.open({
      dir: join(gw.config().batch.dataDir, 'workflows'),
      retentionMs: () => gw.config().batch.retentionMs,
      pipeline: () => gw.pipeline(),
      nodes: () => gw.factory.getNodeRegistry().getAllNodes(),
      concurrency: () =>
        Math.max(
          1,
          gw.factory
            .getNodeRegistry()
            .getAllNodes()
            .reduce((n, node) => n + node.maxConcurrent, 0),
        ),
      clientKeyOf: (owner) => gw.config().auth.apiKeys.find((k) => ownerOf(k.key, true) === owner)?.key,
      metrics: () => (gw.config().metrics.enabled ? gw.factory.getMetricsRegistry().metrics.workflow : undefined),
      leases: gw.factory.getJobLeases(),
      logger: gw.logger.child({ component: 'workflow' }),
    });
    services.set(gw, s);
  }
  return s;
}

/** The gateway is closing: no workflow task starts; the runs resume at the next start. */
export function stopWorkflows(gw: GatewayContext): void {
  void services.get(gw)?.then((s) => s.stopping());
}

/** Waits for the workflow requests still running to end and their records to be saved. */
export async function closeWorkflows(gw: GatewayContext): Promise<void> {
  const s = services.get(gw);
  if (s) await (await s).close();
}

/** A run as the API answers it. */
function view(rec: WorkflowRecord): Record<string, unknown> {
  return { id: rec.id, created_at: rec.created_at, class: rec.requestClass, ...rec.results };
}

function owner(gw: GatewayContext, req: IncomingMessage, res: ServerResponse): string | undefined {
  const cfg = gw.config();
  const id = clientIdentity(req, cfg);
  if (id === null) {
    sendError(res, 401, 'unauthorized: a valid API key is required (Authorization: Bearer or X-API-Key)', 'ollama');
    return undefined;
  }
  return ownerOf(id, cfg.auth.apiKeys.length > 0);
}

/**
 * Workflow runs: `POST /api/workflows` (the workflow as YAML text or a JSON document, plus `vars`,
 * `concurrency`, `class`, `resume`) checks it against the pool and starts it (400 with each problem
 * named by key and line); `GET /api/workflows/{id}` its state and results; `DELETE` cancels it.
 * Each run belongs to the API key that made it: another key gets 404.
 *
 * @example new Gateway({ factory, routes: [addWorkflowRoutes] });
 */
export function addWorkflowRoutes(router: Router, gw: GatewayContext): void {
  // Opened at once, so that runs a previous gateway left unfinished resume without waiting for a client.
  workflowsFor(gw).catch((e: unknown) => gw.logger.error({ err: e }, 'the workflow store could not be opened'));

  router.add('POST', '/api/workflows', async ({ req, res }) => {
    const who = owner(gw, req, res);
    if (who === undefined) return;
    const body = await readJsonObject(gw, req, res, 'ollama');
    if (!body) return;
    const bad = requestProblem(body);
    if (bad) return sendError(res, 400, bad, 'ollama');
    try {
      const rec = await (await workflowsFor(gw)).create(who, body as unknown as WorkflowRequest);
      sendJson(res, 201, view(rec));
    } catch (e) {
      if (!(e instanceof WorkflowError)) throw e;
      sendJson(res, 400, { error: e.message, code: e.code, issues: e.issues });
    }
  });

  router.add('GET', '/api/workflows/:id', async ({ req, res, params }) => {
    const who = owner(gw, req, res);
    if (who === undefined) return;
    const rec = await (await workflowsFor(gw)).find(params.id);
    if (!rec || rec.owner !== who) return sendError(res, 404, `no workflow run ${params.id}`, 'ollama');
    sendJson(res, 200, view(rec));
  });

  router.add('DELETE', '/api/workflows/:id', async ({ req, res, params }) => {
    const who = owner(gw, req, res);
    if (who === undefined) return;
    const s = await workflowsFor(gw);
    const rec = await s.find(params.id);
    if (!rec || rec.owner !== who) return sendError(res, 404, `no workflow run ${params.id}`, 'ollama');
    if (!(await s.cancel(params.id))) return sendError(res, 409, `workflow run ${params.id} has already ended (${rec.results.status})`, 'ollama');
    sendJson(res, 202, view(rec));
  });
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a request's shape, before the workflow itself is read. */
function requestProblem(b: Record<string, unknown>): string | undefined {
  if (typeof b.workflow !== 'string' && !isPlainObject(b.workflow)) return '`workflow` is required: the workflow as YAML text, or as a JSON document';
  if (b.vars !== undefined && !isPlainObject(b.vars)) return '`vars` must be an object';
  if (b.concurrency !== undefined && !(Number.isInteger(b.concurrency) && (b.concurrency as number) >= 1)) return '`concurrency` must be an integer >= 1';
  if (b.class !== undefined && b.class !== 'interactive' && b.class !== 'batch') return '`class` must be interactive or batch';
  if (b.resume !== undefined && !(isPlainObject(b.resume) && isPlainObject(b.resume.tasks) && isPlainObject(b.resume.vars)))
    return '`resume` must be the results of an earlier run';
  return undefined;
}
