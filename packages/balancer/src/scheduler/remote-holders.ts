import { normalizeModel } from '@ollama-ring/protocol';
import type { PoolNode } from '../nodes/node';
import { DEFAULT_KEEP_ALIVE_MS } from '../nodes/resident-models';
import type { Estimates } from './estimates';
import type { RemoteHolder, RemoteHoldersChanged } from './scheduler-events';
import { holderRemainingMs, type OtherHolders, type SlotHolder } from './slot-table';

/** A remote holder on this scheduler's clock, as the wait estimates read it; while Redis is out, when it is expected to end. */
type Held = Pick<SlotHolder, 'model' | 'startedAt' | 'work'> & { endsAt?: number };

/**
 * The holders of a node's slots on other replicas (`state.backend: redis`), kept by the shared slot
 * gate from `remote-holders-changed` events, so this replica sees them as it sees its own:
 * - the wait estimates (`expectedSlotWaitMs`) take their remaining times by the same rule as local
 *   holders' ({@link holders});
 * - each counts in its node's `inFlightByModel` (per-model caps, drain and eviction choices);
 * - a holder of model X tells that X is resident (or loading) on its node: its binding is mirrored
 *   as a local one is (`PoolNode.mirrorBinding`), so a load there evicts what Ollama would evict,
 *   without waiting for the next `/api/ps` discovery.
 * With the memory backend it does not exist. While Redis is out nothing new is heard of, and what
 * the others held then is kept until each is expected to end ({@link outage}, {@link dropEnded}):
 * their requests run on, so the local share must leave their slots alone until then.
 */
export class RemoteHolders implements OtherHolders {
  private readonly byNode = new Map<string, Map<string, Held>>();

  apply(evt: RemoteHoldersChanged, node: PoolNode | undefined, now: number, est: Estimates): void {
    if (!node || node.removed) return;
    if (evt.all) {
      const keep = new Set(evt.all.map((h) => h.lease));
      for (const lease of [...(this.byNode.get(node.id)?.keys() ?? [])]) if (!keep.has(lease)) this.drop(node, lease);
      for (const h of evt.all) this.add(node, h.lease, h.holder, now, est);
    }
    if (evt.bound) this.add(node, evt.bound.lease, evt.bound.holder, now, est);
    // Another replica's request ended: its model is ready there by now, whatever its load was expected to take.
    if (evt.gone !== undefined) this.drop(node, evt.gone, now);
  }

  /** The remote holders of a node's slots (optionally of one model), on this scheduler's clock. */
  holders(nodeId: string, model?: string): Held[] {
    const m = this.byNode.get(nodeId);
    if (!m) return [];
    const key = model === undefined ? undefined : normalizeModel(model);
    const out: Held[] = [];
    for (const h of m.values()) if (key === undefined || h.model === key) out.push(h);
    return out;
  }

  /** How many remote holders are known, in all. */
  size(): number {
    let n = 0;
    for (const m of this.byNode.values()) n += m.size;
    return n;
  }

  /**
   * Redis went out: from now on no end of the others' requests is heard of, so each is taken to end
   * when the estimates expect it to (`holderRemainingMs`, the wait estimates' rule).
   */
  outage(nodes: ReadonlyMap<string, PoolNode>, now: number, est: Estimates): void {
    for (const [nodeId, m] of this.byNode) {
      const node = nodes.get(nodeId);
      for (const h of m.values()) h.endsAt = node ? now + holderRemainingMs(node, h, est, now) : now;
    }
  }

  /** Out of Redis: drops the holders expected to have ended by `now`. */
  dropEnded(nodes: ReadonlyMap<string, PoolNode>, now: number): void {
    for (const [nodeId, m] of this.byNode) {
      const node = nodes.get(nodeId);
      for (const [lease, h] of [...m]) {
        if ((h.endsAt ?? Infinity) > now) continue;
        if (node) this.drop(node, lease);
        else m.delete(lease);
      }
    }
  }

  /** Forgets every holder (Redis is back: its lists replace what was known before the outage). */
  clear(nodes: ReadonlyMap<string, PoolNode>): void {
    for (const [nodeId, m] of this.byNode) {
      const node = nodes.get(nodeId);
      for (const lease of [...m.keys()]) {
        if (node) this.drop(node, lease);
        else m.delete(lease);
      }
    }
    this.byNode.clear();
  }

  private add(node: PoolNode, lease: string, h: RemoteHolder, now: number, est: Estimates): void {
    let m = this.byNode.get(node.id);
    if (!m) {
      m = new Map();
      this.byNode.set(node.id, m);
    }
    if (m.has(lease)) return;
    const model = normalizeModel(h.model);
    // Never in the future, whatever the replicas' clocks say.
    const startedAt = Math.min(now, h.startedAt);
    m.set(lease, { model, startedAt, work: h.work });
    node.remoteHolders = m.size;
    // A holder's lease is held elsewhere, whatever the last count said (the next count corrects it).
    node.heldElsewhere = Math.max(node.heldElsewhere, m.size);
    node.inFlightByModel.set(model, (node.inFlightByModel.get(model) ?? 0) + 1);
    // Resident from its start on: loaded by that request if it was not hot here (a load its replica
    // sent books the loader; one it bound hot was resident as far as it knew).
    const cold = !node.isHot(model, h.optionsSignature, startedAt);
    node.mirrorBinding(model, h.optionsSignature, cold, startedAt, startedAt + DEFAULT_KEEP_ALIVE_MS, cold && h.cold ? est.loadMs(node.id, model) : 0);
  }

  private drop(node: PoolNode, lease: string, endedAt?: number): void {
    const m = this.byNode.get(node.id);
    const h = m?.get(lease);
    if (!m || !h) return;
    m.delete(lease);
    if (endedAt !== undefined) node.modelReady(h.model, endedAt);
    node.remoteHolders = m.size;
    const n = (node.inFlightByModel.get(h.model) ?? 1) - 1;
    if (n > 0) node.inFlightByModel.set(h.model, n);
    else node.inFlightByModel.delete(h.model);
  }
}
