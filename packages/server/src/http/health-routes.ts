import type { NodeSnapshot, SharedStateStatus } from '@ollama-ring/balancer';
import type { GatewayContext } from '../gateway-context';
import { batchMetrics } from './batch-context';
import { sendError } from './errors';
import { shuttingDown } from './operations';
import { canServe, sendJson } from './route-util';
import type { Handler, Router } from './router';

/** One node in `/health`. */
export interface NodeHealth {
  id: string;
  url: string;
  health: NodeSnapshot['health'];
  can_serve: boolean;
  enabled: boolean;
  admin_disabled: boolean;
  draining: boolean;
  circuit_breaker: NodeSnapshot['breakerState'];
  in_flight: number;
  max_concurrent: number;
  last_error?: string;
}

/** `/health`'s body. */
export interface HealthBody {
  status: 'ok' | 'unavailable';
  /** Present when no node can serve, so the body is also Ollama's error shape. */
  error?: string;
  serving: number;
  total: number;
  nodes: NodeHealth[];
  /** The pool's shared state (`state.backend`): with Redis out, `shared` is false and the replica works on its local share. */
  state: StateHealth;
}

/** `state` in `/health` and `/ready`. */
export interface StateHealth {
  backend: SharedStateStatus['backend'];
  shared: boolean;
  replica_id?: string;
  replicas?: number;
  since: string;
  error?: string;
}

/** The shared state as `/health` and `/ready` show it. */
export function stateHealth(s: SharedStateStatus): StateHealth {
  return {
    backend: s.backend,
    shared: s.shared,
    ...(s.replicaId !== undefined ? { replica_id: s.replicaId, replicas: s.replicas } : {}),
    since: new Date(s.since).toISOString(),
    ...(s.error !== undefined ? { error: s.error } : {}),
  };
}

/**
 * `/health` (200 while at least one node can serve, 503 otherwise, with per-node detail), the same
 * at `/api/health` (where seed 004's gateway answered it, so its probes keep working),
 * `/ready` (200 while the gateway takes requests, 503 once it is shutting down; both say whether the
 * replicas share the pool's state now, `state`) and `/metrics` (Prometheus text: the balancer's
 * families, `gateway_ready` and the batch gauges). None needs credentials: probes and scrapers call them.
 *
 * @example new Gateway({ factory, routes: [addHealthRoutes] });
 */
export function addHealthRoutes(router: Router, gw: GatewayContext): void {
  const health: Handler = ({ res }) => {
    const body = healthOf(gw.factory.getNodeRegistry().getAllNodes(), gw.factory.getSharedState());
    sendJson(res, body.status === 'ok' ? 200 : 503, body);
  };
  router.add(['GET', 'HEAD'], '/health', health);
  router.add(['GET', 'HEAD'], '/api/health', health);

  router.add(['GET', 'HEAD'], '/ready', ({ req, res }) => {
    if (shuttingDown(req)) {
      sendJson(res, 503, { status: 'shutting_down', error: 'the gateway is shutting down' });
      return;
    }
    // Redis out is not an outage: the replica still serves, on its local share, and says so.
    sendJson(res, 200, { status: 'ready', state: stateHealth(gw.factory.getSharedState()) });
  });

  router.add('GET', '/metrics', async ({ req, res }) => {
    if (!gw.config().metrics.enabled) {
      sendError(res, 404, 'metrics are disabled (metrics.enabled: false)', 'ollama');
      return;
    }
    const m = gw.factory.getMetricsRegistry();
    const text = (await m.scrape()) + readyMetric(m.metrics.prefix, !shuttingDown(req)) + (await batchMetrics(gw));
    res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

/**
 * `<prefix>gateway_ready`: 1 while the gateway takes requests, 0 once it is shutting down (what
 * `/ready` answers). A scrape on a connection kept open from before the shutdown still sees the 0;
 * a gateway that stopped listening is seen by Prometheus as `up == 0`.
 */
function readyMetric(prefix: string, ready: boolean): string {
  const name = `${prefix}gateway_ready`;
  return `# HELP ${name} 1 while the gateway takes requests, 0 once it is shutting down (as /ready answers).\n# TYPE ${name} gauge\n${name} ${ready ? 1 : 0}\n`;
}

/**
 * The pool's health as `/health` reports it.
 *
 * @example healthOf(registry.getAllNodes()).status; // 'ok'
 */
export function healthOf(nodes: readonly NodeSnapshot[], state: SharedStateStatus = { backend: 'memory', shared: true, since: 0 }): HealthBody {
  const detail = nodes.map((n): NodeHealth => ({
    id: n.id,
    url: n.url,
    health: n.health,
    can_serve: canServe(n),
    enabled: n.enabled,
    admin_disabled: n.adminDisabled,
    draining: n.draining,
    circuit_breaker: n.breakerState,
    in_flight: n.inFlight,
    max_concurrent: n.maxConcurrent,
    ...(n.lastError ? { last_error: n.lastError } : {}),
  }));
  const serving = detail.filter((n) => n.can_serve).length;
  return {
    status: serving > 0 ? 'ok' : 'unavailable',
    ...(serving > 0 ? {} : { error: 'no node can serve requests' }),
    serving,
    total: detail.length,
    nodes: detail,
    state: stateHealth(state),
  };
}
