import { BalancerError, ConfigError, NODE_SCHEMA, type NodeSnapshot, type NodeSpec, StrategyFactory, checkSchema, resolveConfig, withUpstreamTls } from '@ollama-ring/balancer';
import { Route } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError, sendThrown } from './errors';
import { refreshModels } from './model-sync';
import { canServe, type JsonObject, readJsonObject, requireAdmin, sendJson } from './route-util';
import type { HttpContext, Router } from './router';

/**
 * The admin API, under `/admin`. Every route needs the admin token (`Authorization: Bearer
 * <auth.adminToken>`), or, with none configured, a loopback client; otherwise 401/403. Errors are
 * in Ollama's shape. Node changes go to the scheduler as commands (`NodeRegistry`) and are answered
 * once applied.
 *
 * - `GET /admin/nodes`; `POST /admin/nodes` (a node spec; 201, 400, 409); `DELETE /admin/nodes/:id` (drains, then removes: 202 while draining, 200 when gone)
 * - `POST /admin/nodes/:id/enable|disable|drain` (a disabled node stays out across health checks)
 * - `GET /admin/strategy`; `POST /admin/strategy` `{"strategy": name-or-alias}`
 * - `POST /admin/reload` (re-reads the config file; 500 with the reason if it is bad, and the old config stays).
 *   Nodes added with `POST /admin/nodes` survive it, unless the file now defines the same id: then
 *   the file's spec wins and the node belongs to the file from then on
 * - `GET /admin/queue` (the waiting requests, in service order)
 *
 * @example new Gateway({ factory, routes: [addAdminRoutes] });
 */
export function addAdminRoutes(router: Router, gw: GatewayContext): void {
  const admin = (handler: (ctx: HttpContext) => Promise<void> | void) => async (ctx: HttpContext) => {
    if (!requireAdmin(gw, ctx.req, ctx.res)) return;
    try {
      await handler(ctx);
    } catch (e) {
      sendThrown(ctx.res, e, 'ollama');
    }
  };
  const registry = () => gw.factory.getNodeRegistry();

  router.add(
    'GET',
    '/admin/nodes',
    admin(({ res }) => sendJson(res, 200, { nodes: registry().getAllNodes().map(adminView) })),
  );

  router.add(
    'POST',
    '/admin/nodes',
    admin(async ({ req, res }) => {
      const body = await readJsonObject(gw, req, res, 'ollama');
      if (!body) return;
      const spec = nodeSpecOf(body);
      if ('error' in spec) {
        sendError(res, 400, spec.error, 'ollama');
        return;
      }
      // An https node gets the pool-wide upstreamTls under its own tls keys, as a node of the config does.
      const added = await registry().add(withUpstreamTls({ upstreamTls: gw.config().upstreamTls, nodes: [spec.spec] }).nodes[0]);
      gw.logger.info({ node: added.id, url: added.url }, 'admin: node added');
      // Learn its models now instead of at the next discovery round (best effort).
      await refreshModels(gw, [added.id]);
      sendJson(res, 201, adminView(registry().getNode(added.id) ?? added));
    }),
  );

  router.add(
    'DELETE',
    '/admin/nodes/:id',
    admin(async ({ res, params }) => {
      await registry().remove(params.id);
      // Still in the view, marked removed, while it finishes its in-flight requests.
      const left = gw.factory.getPoolView().nodes.find((n) => n.id === params.id);
      gw.logger.info({ node: params.id, inFlight: left?.inFlight ?? 0 }, 'admin: node removed');
      if (left) sendJson(res, 202, { id: params.id, status: 'draining', in_flight: left.inFlight });
      else sendJson(res, 200, { id: params.id, status: 'removed' });
    }),
  );

  for (const action of ['enable', 'disable', 'drain'] as const) {
    router.add(
      'POST',
      `/admin/nodes/:id/${action}`,
      admin(async ({ res, params }) => {
        const snap = await registry()[action](params.id);
        gw.logger.info({ node: params.id }, `admin: node ${action}`);
        sendJson(res, 200, adminView(snap));
      }),
    );
  }

  router.add(
    'GET',
    '/admin/strategy',
    admin(({ res }) => sendJson(res, 200, strategyView(gw))),
  );

  router.add(
    'POST',
    '/admin/strategy',
    admin(async ({ req, res }) => {
      const body = await readJsonObject(gw, req, res, 'ollama');
      if (!body) return;
      const name = body.strategy ?? body.type;
      const canonical = typeof name === 'string' ? StrategyFactory.resolve(name) : undefined;
      if (canonical === undefined) {
        const aliases = Object.keys(StrategyFactory.aliases()).join(', ');
        const got = typeof name === 'string' ? (StrategyFactory.refusal(name) ?? `unknown strategy '${name}'`) : "field 'strategy' must be a string";
        sendError(res, 400, `${got}; valid strategies: ${StrategyFactory.names().join(', ')} (aliases: ${aliases})`, 'ollama');
        return;
      }
      const previous = gw.pipeline().getStrategy();
      await gw.pipeline().setStrategy(canonical);
      gw.logger.info({ from: previous, to: canonical }, 'admin: strategy changed');
      sendJson(res, 200, { ...strategyView(gw), previous });
    }),
  );

  router.add(
    'POST',
    '/admin/reload',
    admin(async ({ res }) => {
      try {
        const r = await gw.reload();
        // Nodes added here at run time survive a reload unless the file now defines their id
        // (then the file's spec wins): `nodes` counts the pool as it now is.
        const configured = gw.factory.getConfiguredNodeIds();
        const ids = registry()
          .getAllNodes()
          .map((n) => n.id);
        sendJson(res, 200, {
          status: 'reloaded',
          nodes: ids.length,
          strategy: r.strategy,
          configured_nodes: ids.filter((id) => configured.has(id)),
          runtime_nodes: ids.filter((id) => !configured.has(id)),
        });
      } catch (e) {
        gw.logger.warn({ err: e }, 'admin: reload failed; the running config stays');
        const why = e instanceof Error ? e.message : String(e);
        sendError(res, 500, `reload failed, the running config is unchanged: ${why}`, 'ollama');
      }
    }),
  );

  router.add(
    'GET',
    '/admin/queue',
    admin(({ res }) => {
      const now = Date.now();
      const waiting = gw.factory.getPoolView().queue.waiting.map((w) => ({
        id: w.id,
        model: w.model,
        route: Route[w.route],
        priority: w.priority,
        class: w.requestClass,
        waited_ms: Math.max(0, now - w.queuedAt),
        deadline_in_ms: Number.isFinite(w.deadline) ? w.deadline - now : null,
      }));
      sendJson(res, 200, { depth: waiting.length, waiting });
    }),
  );
}

/** A node as the admin API shows it: the snapshot, plus whether it can serve now. */
function adminView(n: NodeSnapshot): NodeSnapshot & { canServe: boolean } {
  return { ...n, canServe: canServe(n) };
}

function strategyView(gw: GatewayContext): { strategy: string; configured: string; available: string[]; aliases: Record<string, string> } {
  return {
    strategy: gw.pipeline().getStrategy(),
    configured: gw.config().strategy.type,
    available: StrategyFactory.names(),
    aliases: StrategyFactory.aliases(),
  };
}

/**
 * Validates a node spec from the admin API against the config's own node schema (unknown keys are
 * errors here, not warnings: a typo must not silently add a node without its limits), requires an
 * explicit `id`, and fills the defaults as the config loader does.
 */
export function nodeSpecOf(body: JsonObject): { spec: NodeSpec } | { error: string } {
  const problems = checkSchema(body, NODE_SCHEMA).map((p) => `${p.segs.join('.') || '(body)'}: ${p.message.replace(' (ignored)', '')}`);
  if (body.id === undefined) problems.unshift('id: is required');
  if (problems.length > 0) return { error: `invalid node: ${problems.join('; ')}` };
  try {
    const spec = resolveConfig({ nodes: [body] }).config.nodes[0];
    if (!spec) return { error: 'invalid node' };
    return { spec };
  } catch (e) {
    if (e instanceof ConfigError || e instanceof BalancerError) return { error: `invalid node: ${e.message}` };
    throw e;
  }
}
