import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BalancerConfig, type ListenAddress, parseListen } from '@ollama-ring/balancer';

/**
 * The parts of the gateway that may be served on a listener of their own (`metrics.listen`,
 * `admin.listen`), so that they can be bound to another interface or port than inference: a
 * scraper on a private network, an admin API reachable from the host only.
 */
export type Surface = 'metrics' | 'admin';

/**
 * The surface a path belongs to: `/metrics`, or `/admin` and everything under it (the model
 * management routes, `/api/delete` and the like, stay where Ollama's clients call them).
 *
 * @example surfaceOf('/admin/nodes'); // 'admin'
 */
export function surfaceOf(pathname: string): Surface | undefined {
  if (pathname === '/metrics') return 'metrics';
  if (pathname === '/admin' || pathname.startsWith('/admin/')) return 'admin';
  return undefined;
}

/** One extra listener: where, and what it serves. */
export interface SidePlan {
  address: ListenAddress;
  surfaces: ReadonlySet<Surface>;
}

/**
 * The extra listeners the config asks for, read once at start: one per distinct address (the
 * metrics and admin surfaces share one when their addresses are equal).
 *
 * @example sidePlans(config); // [{ address: { host: '127.0.0.1', port: 9464 }, surfaces: Set { 'metrics' } }]
 */
export function sidePlans(cfg: BalancerConfig): SidePlan[] {
  const byAddress = new Map<string, { address: ListenAddress; surfaces: Set<Surface> }>();
  for (const [surface, listen] of [
    ['metrics', cfg.metrics.listen],
    ['admin', cfg.admin.listen],
  ] as const) {
    // The schema has refused anything but '' and a valid address.
    const address = listen === '' ? undefined : parseListen(listen);
    if (!address) continue;
    const key = `${address.host}\u0000${address.port}`;
    const plan = byAddress.get(key) ?? { address, surfaces: new Set<Surface>() };
    plan.surfaces.add(surface);
    byAddress.set(key, plan);
  }
  return [...byAddress.values()];
}

/**
 * Whether a listener serves a path's surface: an extra listener only its own surfaces, the main
 * listener everything but the surfaces moved to an extra one. A path not served is answered as an
 * unknown path (404), so the main port does not reveal the admin API that lives elsewhere.
 */
export function serves(surface: Surface | undefined, own: ReadonlySet<Surface> | undefined, moved: ReadonlySet<Surface>): boolean {
  if (own) return surface !== undefined && own.has(surface);
  return surface === undefined || !moved.has(surface);
}

/** Starts `server` on `address`; resolves with the bound address (port 0 picks a free one). */
export function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
