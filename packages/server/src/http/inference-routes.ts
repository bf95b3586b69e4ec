import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorFlavor, INFERENCE_ROUTES, ROUTE_PATHS, type Route, flavorOfPath, isEmbeddingRoute } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { clientIdentity } from './auth';
import { BodyError, readBody } from './body';
import { sendError, sendThrown } from './errors';
import { hintsFromHeaders } from './hints';
import { HttpSink } from './http-sink';
import type { Router } from './router';

/** The embedding routes: offered to the autobatch coalescer before the pipeline. */

/** The routes that go through the pipeline, each answering errors in its own API's shape. */
export function addInferenceRoutes(router: Router, gw: GatewayContext): void {
  for (const route of INFERENCE_ROUTES) {
    const path = ROUTE_PATHS[route];
    const flavor = flavorOfPath(path);
    const embedding = isEmbeddingRoute(route);
    router.add('POST', path, ({ req, res }) => proxyInference(gw, req, res, route, flavor, embedding));
  }
}

/**
 * Reads the body under the size cap, then hands the request to the pipeline with a sink that
 * streams the response back. A client that disconnects aborts the request, upstream included.
 */
async function proxyInference(gw: GatewayContext, req: IncomingMessage, res: ServerResponse, route: Route, flavor: ErrorFlavor, embedding: boolean): Promise<void> {
  const cfg = gw.config();
  const client = clientIdentity(req, cfg);
  if (client === null) {
    sendError(res, 401, 'unauthorized: a valid API key is required (Authorization: Bearer or X-API-Key)', flavor);
    gw.logRequest({ req, status: 401, route, outcome: 'unauthorized' });
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(req, cfg.validation.maxBodyBytes);
  } catch (e) {
    if (e instanceof BodyError) {
      sendError(res, e.status, e.message, flavor);
      // The rest of an oversized body is not worth reading; close instead of draining it.
      res.once('finish', () => req.destroy());
      // What the client got: the gateway may have answered already (408 past the request deadline).
      gw.logRequest({ req, status: res.statusCode, route, outcome: 'rejected' });
      return;
    }
    throw e;
  }
  // A client that leaves cancels its request (upstream too). By id, not by AbortSignal: one
  // listener on the response, and no AbortController or EventTarget per request.
  let id = 0;
  res.once('close', () => {
    if (id !== 0 && !res.writableFinished) gw.pipeline().cancel(id);
  });
  if (res.destroyed) return; // gone while its body was read: nothing to send, nobody to answer
  const started = performance.now();
  // Without a request log (the default logger is silent) no line is built for it, nor its callback.
  const logged = gw.logger.isLevelEnabled('info');
  const sink = new HttpSink(
    res,
    flavor,
    !logged
      ? undefined
      : (info) =>
          gw.logRequest({
            req,
            route,
            status: info.status,
            nodeId: info.nodeId,
            queueMs: info.queueMs,
            retries: info.retries,
            ttftMs: info.end?.ttftMs,
            tokens: info.end?.final?.evalTokens,
            latencyMs: performance.now() - started,
            outcome: info.error ? info.error.code : 'ok',
          }),
  );
  const hints = hintsFromHeaders(req);
  if (embedding) {
    // Concurrent embedding requests may share one upstream call (autobatch); the coalescer answers
    // through the sink, and one client leaving takes nothing from the others.
    const ticket = gw.factory.getAutobatch().coalescer.offer(route, body, sink, { clientKey: client, hints });
    if (ticket) {
      res.once('close', () => {
        if (!res.writableFinished) ticket.leave();
      });
      return;
    }
  }
  try {
    // The client's W3C trace context: the request's span (when the host registered an SDK) is its
    // child, and the node gets it; a header sent twice is not a trace context (the spec).
    const { traceparent, tracestate } = req.headers;
    id = gw.pipeline().execute({ route, body, hints }, sink, {
      clientKey: client,
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      tracestate: typeof tracestate === 'string' ? tracestate : undefined,
    });
  } catch (e) {
    sendThrown(res, e, flavor);
    gw.logRequest({ req, route, status: res.statusCode, outcome: (e as { code?: string }).code ?? 'error' });
  }
}
