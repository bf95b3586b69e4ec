import { flavorOfPath } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { addAdminRoutes } from './admin-routes';
import { addBatchRoutes } from './batch-routes';
import { addWorkflowRoutes } from './workflow-routes';
import { addBlobRoutes } from './blob-routes';
import { addDashboardRoutes } from './dashboard-routes';
import { addDocsRoutes } from './docs-routes';
import { addEmbedBatchRoutes } from './embed-batch-routes';
import { addHealthRoutes } from './health-routes';
import { NODE_HEADER } from './http-sink';
import { addModelAdminRoutes } from './model-admin-routes';
import { addModelRoutes } from './model-routes';
import { operationsFor, shuttingDown } from './operations';
import { sendError } from './errors';
import { addOpenAIModelRoutes } from './openai-model-routes';
import type { Handler, Router } from './router';
import { addStatsRoutes } from './stats-routes';

type AddRoutes = (router: Router, gw: GatewayContext) => void;

/** Paths that probes and scrapers call every few seconds: not worth a log line each. */
const QUIET = new Set(['/', '/health', '/api/health', '/ready', '/metrics']);

/** The outcome word of the request log for a status. */
function outcomeOf(status: number): string {
  if (status < 400) return 'ok';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status < 500) return 'rejected';
  return 'error';
}

/**
 * Adds `add`'s routes with one request-log line each (as inference requests get from their sink),
 * naming the route by its pattern and the node that answered, when one did. The router is wrapped
 * rather than changed: only `add` is replaced, on an object whose prototype is the router.
 */
function logged(add: AddRoutes): AddRoutes {
  return (router, gw) => {
    const wrapper = Object.create(router) as Router;
    wrapper.add = (methods: string | string[], pattern: string, handler: Handler) => {
      if (QUIET.has(pattern)) return router.add(methods, pattern, handler);
      return router.add(methods, pattern, async (ctx) => {
        const started = performance.now();
        // Tracked until it ends, so that Gateway.close() lets it finish within the grace period.
        operationsFor(gw).track(ctx.res);
        ctx.res.once('close', () => {
          const node = ctx.res.getHeader(NODE_HEADER);
          gw.logRequest({
            req: ctx.req,
            status: ctx.res.statusCode,
            route: pattern,
            nodeId: typeof node === 'string' ? node : undefined,
            latencyMs: performance.now() - started,
            outcome: ctx.res.writableFinished ? outcomeOf(ctx.res.statusCode) : 'aborted',
          });
        });
        // Once the gateway is closing, reads still answer but no new change or transfer starts.
        if (shuttingDown(ctx.req) && ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') {
          sendError(ctx.res, 503, 'the gateway is shutting down', flavorOfPath(ctx.url.pathname), 5);
          return;
        }
        await handler(ctx);
      });
    };
    add(wrapper, gw);
  };
}

/**
 * Every route of the gateway besides inference (which the gateway adds itself): health, readiness
 * and metrics, `/api/stats`, the embedding batch jobs (`/api/embed/batch`, `/api/batch-status`), the
 * Ollama model routes (listings, show, version, pull, and the admin-only delete, copy, create, push
 * and blobs), OpenAI's `/v1/models`, its Files and Batch APIs (`/v1/files`, `/v1/batches`), workflow runs (`/api/workflows`), the admin API, the API's
 * own documentation (`/openapi.json`, `/docs`), and the live dashboard (`/dashboard`). Each request but
 * the probes' gets a line in the request log, and is tracked so that `Gateway.close()` lets it
 * finish within the grace period (a pull's progress stream, say) before cutting it.
 *
 * @example const gw = new Gateway({ factory, routes: allRoutes, loadConfig: () => loadConfig(file).config });
 */
export const allRoutes: AddRoutes[] = [
  addHealthRoutes,
  addStatsRoutes,
  addEmbedBatchRoutes,
  addModelRoutes,
  addModelAdminRoutes,
  addBlobRoutes,
  addOpenAIModelRoutes,
  addBatchRoutes,
  addWorkflowRoutes,
  addAdminRoutes,
  addDocsRoutes,
  addDashboardRoutes,
].map(logged);
