import { normalizeModel } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { upstreamFor } from './upstream';

/**
 * Re-reads `/api/tags` on the given nodes and hands the model lists to the scheduler as one event
 * (it alone writes pool state), as the health monitor's discovery does. Called after the gateway
 * pulled, created, copied or deleted models, or added a node, so routing knows at once rather than
 * at the next discovery round. Best effort: a node that does not answer keeps what it had.
 *
 * @example await refreshModels(gw, ['gpu-1']);
 */
export async function refreshModels(gw: GatewayContext, nodeIds: readonly string[]): Promise<void> {
  const registry = gw.factory.getNodeRegistry();
  const up = upstreamFor(gw);
  const found = await Promise.all(
    nodeIds.map(async (id) => {
      const node = registry.getNode(id);
      if (!node) return undefined;
      try {
        const tags = await up.json<{ models?: { name?: unknown; model?: unknown }[] }>(node, '/api/tags');
        const names = (tags.models ?? []).map((m) => m.name ?? m.model).filter((n): n is string => typeof n === 'string');
        return { id, models: new Set(names.map(normalizeModel)) };
      } catch (e) {
        gw.logger.debug({ err: e, node: id }, 'model refresh failed');
        return undefined;
      }
    }),
  );
  const updates = found.filter((u): u is { id: string; models: Set<string> } => u !== undefined);
  if (updates.length === 0) return;
  await new Promise<void>((resolve) =>
    gw.factory.getScheduler().post({
      type: 'apply',
      label: 'gateway-model-refresh',
      fn: (s) => {
        for (const u of updates) {
          const n = s.nodes.get(u.id);
          if (!n) continue;
          n.discoveredModels = u.models;
          // Fresh knowledge replaces what failed requests taught (as discovery does).
          n.missingModels.clear();
        }
        resolve();
      },
    }),
  );
}

/**
 * Resolves once every scheduler event posted before it has been applied (a no-op event that
 * queues behind them), e.g. to read a strategy set through `Pipeline.setStrategy`.
 *
 * @example pipeline.setStrategy(s); await schedulerBarrier(gw);
 */
export function schedulerBarrier(gw: GatewayContext): Promise<void> {
  return new Promise((resolve) => gw.factory.getScheduler().post({ type: 'apply', label: 'gateway-barrier', fn: () => resolve() }));
}
