import type { GatewayContext } from '../gateway-context';
import { upstreamFor } from './upstream';

/**
 * Re-reads `/api/tags` on the given nodes and hands the model lists to the scheduler as one event
 * (it alone writes pool state), as the health monitor's discovery does. Called after the gateway
 * pulled, created, copied or deleted models, or added a node, so routing knows at once rather than
 * at the next discovery round. Best effort: a node that does not answer keeps what it had. With
 * `discovery.enabled: false` it does nothing: routing then follows the configured models alone.
 *
 * @example await refreshModels(gw, ['gpu-1']);
 */
export async function refreshModels(gw: GatewayContext, nodeIds: readonly string[]): Promise<void> {
  if (!gw.config().discovery.enabled) return;
  const registry = gw.factory.getNodeRegistry();
  const up = upstreamFor(gw);
  const found = await Promise.all(
    nodeIds.map(async (id) => {
      const node = registry.getNode(id);
      if (!node) return undefined;
      try {
        const tags = await up.json<{ models?: { name?: unknown; model?: unknown }[] }>(node, '/api/tags');
        const names = (tags.models ?? []).map((m) => m.name ?? m.model).filter((n): n is string => typeof n === 'string');
        return { id, models: names };
      } catch (e) {
        gw.logger.debug({ err: e, node: id }, 'model refresh failed');
        return undefined;
      }
    }),
  );
  const updates = found.filter((u): u is { id: string; models: string[] } => u !== undefined);
  if (updates.length === 0) return;
  // Discovery results like the monitor's (fresh knowledge replaces what failed requests taught),
  // then a barrier: routing knows them once this resolves.
  const control = gw.factory.getControlPlane();
  const at = Date.now();
  for (const u of updates) control.modelsDiscovered({ nodeId: u.id, models: u.models, at });
  // A balancer that has shut down meanwhile (a stream finishing in the grace period) has nothing to learn.
  await control.barrier().catch(() => undefined);
}
