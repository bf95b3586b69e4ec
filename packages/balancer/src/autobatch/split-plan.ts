import { normalizeModel } from '@ollama-ring/protocol';
import type { AutobatchConfig } from '../config/types';
import { canServe } from '../nodes/node-snapshot';
import type { PoolView } from '../scheduler/pool-view';

/**
 * Into how many parts a call of `inputs` inputs for `model` is split: one up to
 * `autobatch.splitAbove` inputs; above it, as many as the nodes that have the model loaded and a
 * free slot now (each part then costs no load), but no part under `minPartSize` inputs, and at
 * least one. The parts are not pinned to those nodes: the scheduler binds each like any request, so
 * the strategy, the breakers and the slots decide, and a part that finds no hot node free waits or
 * goes cold as any request would.
 *
 * @example partsFor(view, 'nomic-embed-text', 1000, { splitAbove: 256, minPartSize: 32 }); // 3 with three hot nodes free
 */
export function partsFor(view: PoolView, model: string, inputs: number, cfg: Pick<AutobatchConfig, 'splitAbove' | 'minPartSize'>): number {
  if (cfg.splitAbove <= 0 || inputs <= cfg.splitAbove) return 1;
  const want = normalizeModel(model);
  let hot = 0;
  for (const n of view.nodes) {
    if (n.removed || !canServe(n) || n.inFlight >= n.maxConcurrent) continue;
    if (n.loadedModels.some((m) => m.model === want && m.expiresAt > view.at)) hot++;
  }
  return Math.max(1, Math.min(hot, Math.floor(inputs / cfg.minPartSize)));
}
