import { normalizeModel } from '@ollama-ring/protocol';
import type { PoolNode } from '../nodes/node';
import type { Estimates, SlotWork } from './estimates';

/** One slot's holder: which request, of which model, since when, and what it asked for. */
export interface SlotHolder {
  readonly requestId: number;
  readonly model: string;
  readonly startedAt: number;
  readonly work: SlotWork;
}

const NO_WORK: SlotWork = Object.freeze({ promptTokens: 0 });

/**
 * Which request holds which slot on which node, and since when. The scheduler is its only writer:
 * `acquire` on binding, `release` on completion, and nothing else moves a node's in-flight count,
 * so slots cannot leak, and each change is booked in the node's utilization (`PoolNode.usage`). The start times let the predictive strategy estimate when a busy node will
 * next have a free slot.
 */
export class SlotTable {
  private readonly byNode = new Map<string, Map<number, SlotHolder>>();
  /** Told of every slot freed (the shared slot leases give the request's lease back); unset with the memory backend. */
  onRelease: ((requestId: number) => void) | undefined;

  /** Takes a slot on `node` for `requestId`; `work` (prompt size, output cap) feeds the wait estimates. */
  acquire(node: PoolNode, requestId: number, model: string, now: number, work: SlotWork = NO_WORK): void {
    let m = this.byNode.get(node.id);
    if (!m) {
      m = new Map();
      this.byNode.set(node.id, m);
    }
    if (m.has(requestId)) return;
    const key = normalizeModel(model);
    m.set(requestId, { requestId, model: key, startedAt: now, work });
    node.usage.advance(now, node.inFlight, node.spec.maxConcurrentRequests);
    node.inFlight++;
    node.inFlightByModel.set(key, (node.inFlightByModel.get(key) ?? 0) + 1);
  }

  /** Frees the slot `requestId` holds on `node` at `now`; false when it held none (already released). */
  release(node: PoolNode, requestId: number, now: number): boolean {
    const m = this.byNode.get(node.id);
    const h = m?.get(requestId);
    if (!m || !h) return false;
    m.delete(requestId);
    this.onRelease?.(requestId);
    node.usage.advance(now, node.inFlight, node.spec.maxConcurrentRequests);
    node.inFlight = Math.max(0, node.inFlight - 1);
    const n = (node.inFlightByModel.get(h.model) ?? 1) - 1;
    if (n > 0) node.inFlightByModel.set(h.model, n);
    else node.inFlightByModel.delete(h.model);
    return true;
  }

  /** Start times of the requests in flight on a node (optionally for one model). */
  startTimes(nodeId: string, model?: string): number[] {
    const m = this.byNode.get(nodeId);
    if (!m) return [];
    const key = model === undefined ? undefined : normalizeModel(model);
    const out: number[] = [];
    for (const h of m.values()) if (key === undefined || h.model === key) out.push(h.startedAt);
    return out;
  }

  /** The holders of a node's slots (optionally for one model). */
  holders(nodeId: string, model?: string): SlotHolder[] {
    const m = this.byNode.get(nodeId);
    if (!m) return [];
    const key = model === undefined ? undefined : normalizeModel(model);
    return [...m.values()].filter((h) => key === undefined || h.model === key);
  }

  inFlightOn(nodeId: string): number {
    return this.byNode.get(nodeId)?.size ?? 0;
  }

  /** Forgets a removed node's table (its requests have all been released). */
  dropNode(nodeId: string): void {
    if ((this.byNode.get(nodeId)?.size ?? 0) === 0) this.byNode.delete(nodeId);
  }

  total(): number {
    let n = 0;
    for (const m of this.byNode.values()) n += m.size;
    return n;
  }
}

/** Free slots over `nodes`, whatever their models: a pass stops once there are none. */
export function freeSlotsIn(nodes: Iterable<PoolNode>): number {
  let n = 0;
  for (const node of nodes) n += Math.max(0, node.maxConcurrent - node.inFlight - node.heldElsewhere);
  return n;
}

/** Other replicas' holders of the nodes' slots, as the wait estimate reads them (`remote-holders.ts`). */
export interface OtherHolders {
  holders(nodeId: string, model?: string): readonly Pick<SlotHolder, 'model' | 'startedAt' | 'work'>[];
}

/**
 * Expected ms until `node` has a free slot for `model`: 0 when one is free now; otherwise the
 * soonest expected finish among its in-flight requests, this replica's and (`remote`, with
 * replicas) the other replicas', by the same rule. Each holder's remaining time is its own
 * (`Estimates.remainingMs`): from its prompt and output cap when the request gave one, else from
 * the model's recent output lengths given how long it has run, at the learned prefill and token
 * rates of that node and model. Its clock starts when its model is ready: a request bound cold holds
 * its slot through the load first (the node's `readyAt` for the model).
 *
 * Why not one mean service time for all: outputs span an order of magnitude (16–320 tokens in the
 * scheduling bench), so with a mean a slot held by a long answer looks almost free for most of
 * its life, and requests keep waiting for it.
 */
export function expectedSlotWaitMs(node: PoolNode, model: string, table: SlotTable, est: Estimates, now: number, remote?: OtherHolders): number {
  if (node.freeSlots(model) > 0) return 0;
  const key = normalizeModel(model);
  const cap = node.spec.maxConcurrentPerModel?.[key];
  // Only a model held back by its own cap waits for its own requests; on a node that is simply
  // full, whichever request ends first frees the slot.
  const capped = cap !== undefined && (node.inFlightByModel.get(key) ?? 0) >= cap;
  const local = table.holders(node.id, capped ? key : undefined);
  const holders: Pick<SlotHolder, 'model' | 'startedAt' | 'work'>[] = remote ? [...local, ...remote.holders(node.id, capped ? key : undefined)] : local;
  if (holders.length === 0) return est.serviceMs(node.id, key);
  let soonest = Infinity;
  for (const h of holders) soonest = Math.min(soonest, holderRemainingMs(node, h, est, now));
  return soonest;
}

/**
 * Expected ms until a holder of one of `node`'s slots frees it (`Estimates.remainingMs`), its clock
 * started when its model is ready: a request bound cold holds its slot through the load first.
 */
export function holderRemainingMs(node: PoolNode, h: Pick<SlotHolder, 'model' | 'startedAt' | 'work'>, est: Estimates, now: number): number {
  const begin = Math.max(h.startedAt, node.loaded.get(h.model)?.readyAt ?? 0);
  // Still loading: the load's remainder, then all of its work.
  const loading = Math.max(0, begin - now);
  return loading + est.remainingMs(node.id, h.model, h.work, now - begin);
}
