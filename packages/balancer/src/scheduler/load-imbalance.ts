import type { NodeSnapshot } from '../nodes/node-snapshot';
import type { NodeUsage } from '../nodes/slot-usage';
import type { PoolView } from './pool-view';

/** The definition of the pool's load imbalance, as `/api/stats` states it next to the figures. */
export const IMBALANCE_DEFINITION =
  '(max − min) ÷ mean of the utilization of the nodes that serve a model (enabled, not draining), for each model two or more such nodes serve; the pool figure is the largest of these; 0 when all of them are idle';

/** The imbalance among the nodes that serve one model. */
export interface ModelImbalance {
  /** The nodes that serve it (ids, sorted). */
  readonly nodes: readonly string[];
  readonly lastMinute: number;
  readonly sinceStart: number;
}

/** Utilization per node and the pool's load imbalance, read from one `PoolView`. */
export interface PoolUtilization {
  /** Every node not removed. */
  readonly nodes: Readonly<Record<string, NodeUsage>>;
  /** The worst model's imbalance (see {@link IMBALANCE_DEFINITION}); null when no model has two nodes to compare. */
  readonly imbalance: { readonly lastMinute: number | null; readonly sinceStart: number | null; readonly byModel: Readonly<Record<string, ModelImbalance>> };
}

/**
 * The spread of a set of utilizations: (max − min) ÷ mean. 0 for fewer than two values or when all
 * are 0. Chosen over the coefficient of variation because it reads directly: 0.05 means the busiest
 * node is busier than the idlest by 5 % of the mean; for two nodes it is twice their CV.
 *
 * @example spread([0.8, 0.84]); // 0.0488
 */
export function spread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const mean = sum / values.length;
  return mean > 0 ? (max - min) / mean : 0;
}

/**
 * The nodes that serve each model, for the models two or more of them serve: those enabled, not
 * disabled by an admin, not draining or removed. A node that lists no models (none configured, no
 * discovery yet) takes any model, so it joins every group; when no node lists any, the whole pool
 * is one group, `*`.
 *
 * @example peerGroups(view.nodes); // Map { 'llama3.2:latest' => ['gpu-1', 'gpu-2'] }
 */
export function peerGroups(nodes: readonly Pick<NodeSnapshot, 'id' | 'models' | 'enabled' | 'adminDisabled' | 'draining' | 'removed'>[]): Map<string, string[]> {
  const serving = nodes.filter((n) => n.enabled && !n.adminDisabled && !n.draining && !n.removed);
  const any = serving.filter((n) => n.models.length === 0).map((n) => n.id);
  const byModel = new Map<string, string[]>();
  for (const n of serving) for (const m of n.models) byModel.set(m, [...(byModel.get(m) ?? []), n.id]);
  if (byModel.size === 0 && any.length > 0) byModel.set('*', []);
  const out = new Map<string, string[]>();
  for (const [m, ids] of [...byModel].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const group = [...new Set([...ids, ...any])].sort();
    if (group.length >= 2) out.set(m, group);
  }
  return out;
}

/**
 * The imbalance of each group under one utilization per node, and the worst of them (null when
 * there is no group).
 *
 * @example imbalanceOf(peerGroups(view.nodes), (id) => burst[id]).worst;
 */
export function imbalanceOf(groups: ReadonlyMap<string, readonly string[]>, utilizationOf: (nodeId: string) => number): { worst: number | null; byModel: Record<string, number> } {
  const byModel: Record<string, number> = {};
  let worst: number | null = null;
  for (const [model, ids] of groups) {
    const s = spread(ids.map(utilizationOf));
    byModel[model] = s;
    worst = Math.max(worst ?? 0, s);
  }
  return { worst, byModel };
}

/**
 * Utilization per node and the load imbalance, over the last minute and since start, from a view.
 *
 * @example poolUtilization(factory.getPoolView()).imbalance.lastMinute; // 0.03
 */
export function poolUtilization(view: Pick<PoolView, 'nodes' | 'usage'>): PoolUtilization {
  const nodes: Record<string, NodeUsage> = {};
  for (const n of view.nodes) if (!n.removed && view.usage[n.id]) nodes[n.id] = view.usage[n.id];
  const groups = peerGroups(view.nodes);
  const last = imbalanceOf(groups, (id) => nodes[id]?.lastMinute ?? 0);
  const start = imbalanceOf(groups, (id) => nodes[id]?.sinceStart ?? 0);
  const byModel: Record<string, ModelImbalance> = {};
  for (const [model, ids] of groups) byModel[model] = { nodes: ids, lastMinute: last.byModel[model], sinceStart: start.byModel[model] };
  return { nodes, imbalance: { lastMinute: last.worst, sinceStart: start.worst, byModel } };
}
