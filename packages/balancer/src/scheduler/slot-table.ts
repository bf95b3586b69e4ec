import { normalizeModel } from '../model-names';
import type { PoolNode } from '../nodes/node';

interface Holder {
  requestId: number;
  model: string;
  startedAt: number;
}

/**
 * Which request holds which slot on which node, and since when. The scheduler is its only writer:
 * `acquire` on binding, `release` on completion, and nothing else moves a node's in-flight count,
 * so slots cannot leak. The start times let the predictive strategy estimate when a busy node will
 * next have a free slot.
 */
export class SlotTable {
  private readonly holders = new Map<string, Map<number, Holder>>();

  acquire(node: PoolNode, requestId: number, model: string, now: number): void {
    let m = this.holders.get(node.id);
    if (!m) {
      m = new Map();
      this.holders.set(node.id, m);
    }
    if (m.has(requestId)) return;
    const key = normalizeModel(model);
    m.set(requestId, { requestId, model: key, startedAt: now });
    node.inFlight++;
    node.inFlightByModel.set(key, (node.inFlightByModel.get(key) ?? 0) + 1);
  }

  /** Frees the slot `requestId` holds on `node`; false when it held none (already released). */
  release(node: PoolNode, requestId: number): boolean {
    const m = this.holders.get(node.id);
    const h = m?.get(requestId);
    if (!m || !h) return false;
    m.delete(requestId);
    node.inFlight = Math.max(0, node.inFlight - 1);
    const n = (node.inFlightByModel.get(h.model) ?? 1) - 1;
    if (n > 0) node.inFlightByModel.set(h.model, n);
    else node.inFlightByModel.delete(h.model);
    return true;
  }

  /** Start times of the requests in flight on a node (optionally for one model). */
  startTimes(nodeId: string, model?: string): number[] {
    const m = this.holders.get(nodeId);
    if (!m) return [];
    const key = model === undefined ? undefined : normalizeModel(model);
    const out: number[] = [];
    for (const h of m.values()) if (key === undefined || h.model === key) out.push(h.startedAt);
    return out;
  }

  inFlightOn(nodeId: string): number {
    return this.holders.get(nodeId)?.size ?? 0;
  }

  /** Forgets a removed node's table (its requests have all been released). */
  dropNode(nodeId: string): void {
    if ((this.holders.get(nodeId)?.size ?? 0) === 0) this.holders.delete(nodeId);
  }

  total(): number {
    let n = 0;
    for (const m of this.holders.values()) n += m.size;
    return n;
  }
}

/**
 * Expected ms until `node` has a free slot for `model`: 0 when one is free now; otherwise the
 * soonest expected finish among its in-flight requests, each expected to take `serviceMs`.
 */
export function expectedSlotWaitMs(
  node: PoolNode,
  model: string,
  table: SlotTable,
  serviceMs: number,
  now: number,
): number {
  if (node.freeSlots(model) > 0) return 0;
  const key = normalizeModel(model);
  const cap = node.spec.maxConcurrentPerModel?.[key];
  // Only a model held back by its own cap waits for its own requests; on a node that is simply
  // full, whichever request ends first frees the slot.
  const capped = cap !== undefined && (node.inFlightByModel.get(key) ?? 0) >= cap;
  const starts = table.startTimes(node.id, capped ? key : undefined);
  if (starts.length === 0) return serviceMs;
  let soonest = Infinity;
  for (const s of starts) soonest = Math.min(soonest, Math.max(0, s + serviceMs - now));
  // A request past its expected end is still running; assume it ends soon, not that it has ended.
  return Math.max(soonest, serviceMs * 0.05);
}
