import { PreemptedError } from '../errors';
import type { PoolNode } from '../nodes/node';
import type { RequestContext, RequestTable } from '../request-context';
import type { PoolState } from './pool-state';

/** What preemption needs: the slots (who holds what, since when) and the live requests. */
export interface PreemptionDeps {
  readonly pool: Pick<PoolState, 'slots' | 'config'>;
  readonly table: RequestTable;
}

/**
 * Cuts a running batch line to free its slot for an interactive request that found none.
 *
 * Without it, an interactive request that arrives while batch lines fill every slot waits for one of
 * them to end: up to a whole batch line's service time, and a burst waits for several. A batch line
 * that has sent nothing to its caller yet (a batch line is answered whole, so that is all of its run)
 * can be stopped and run again later with nothing lost but the work done so far; so the youngest one
 * is cut (the least work thrown away), on the node the waiter's strategy picked if it picked a full
 * one, else on a node where the waiter's model is hot if there is one (no load to wait for), and
 * goes back to the queue ahead of its key's other lines. Each line is cut at most
 * `queue.batchPreemptions` times, so that no line waits forever under a steady interactive load; 0
 * turns preemption off. The line put back after a cut is the youngest when it runs again, so it
 * takes most of the cuts: the limit must leave room for that, or every running line soon is past
 * it and interactive requests wait for lines to end (the default is sized in bench:batch's model).
 *
 * A cut slot is not free until its dispatch's completion event arrives: `freeing` counts those by
 * node, and each serves one waiter, so that the passes in between do not cut a second line for
 * the same waiter.
 */
export class Preemption {
  /** Cut lines whose completion has not arrived yet, by node id: slots about to free. */
  private readonly freeing = new Map<string, number>();
  /** This pass: slots about to free already counted for a waiter, by node id. */
  private readonly promised = new Map<string, number>();
  /** This pass: nodes found to hold no line that may be cut. */
  private readonly exhausted = new Set<string>();
  /** This pass: how many more interactive waiters a full pool may still be offered (-1: not counted yet). */
  private budget = -1;
  /** Lines cut since start. */
  total = 0;

  constructor(private readonly d: PreemptionDeps) {}

  /** Starts a scheduling pass. */
  beginPass(): void {
    if (this.promised.size > 0) this.promised.clear();
    if (this.exhausted.size > 0) this.exhausted.clear();
    this.budget = -1;
  }

  /**
   * Whether the pass, which has no free slot left, should still offer the next interactive waiter
   * (it may cut a line). Bounded by the lines that may be cut and the slots being freed, counted
   * once a pass, so that a full pool with nothing to cut walks none of its waiters.
   */
  offerWhileFull(nodes: Iterable<PoolNode>): boolean {
    const max = this.d.pool.config.queue.batchPreemptions;
    if (max <= 0) return false;
    if (this.budget < 0) {
      let n = 0;
      for (const f of this.freeing.values()) n += f;
      for (const node of nodes) {
        for (const h of this.d.pool.slots.holders(node.id)) {
          const c = this.d.table.get(h.requestId);
          if (c && cuttable(c, max)) n++;
        }
      }
      this.budget = n;
    }
    if (this.budget === 0) return false;
    this.budget--;
    return true;
  }

  /**
   * An interactive request found no free slot on any of `nodes` (the candidates its strategy was
   * offered): serves it with a slot already being freed there, or cuts a batch line there. `chosen`
   * is the full node its strategy picked, if it picked one (a hot node it prefers to wait for): the
   * slot is freed there first, since the strategy would go on waiting for that node while a slot
   * freed elsewhere went unused. Returns whether a slot will free for it.
   */
  forWaiter(waiter: RequestContext, nodes: readonly PoolNode[], now: number, chosen?: PoolNode): boolean {
    const max = this.d.pool.config.queue.batchPreemptions;
    if (max <= 0) return false;
    if (chosen !== undefined && this.freeFor(waiter, [chosen], now, max)) return true;
    return this.freeFor(waiter, nodes, now, max);
  }

  private freeFor(waiter: RequestContext, nodes: readonly PoolNode[], now: number, max: number): boolean {
    for (const n of nodes) {
      if ((this.freeing.get(n.id) ?? 0) > (this.promised.get(n.id) ?? 0)) {
        this.promised.set(n.id, (this.promised.get(n.id) ?? 0) + 1);
        return true;
      }
    }
    const facts = waiter.facts!;
    let victim: RequestContext | undefined;
    let victimNode: PoolNode | undefined;
    let victimHot = false;
    let victimStart = -Infinity;
    for (const n of nodes) {
      // Only a node that is full: where the strategy passed over a free slot, waiting was its choice.
      if (n.inFlight < n.maxConcurrent || this.exhausted.has(n.id)) continue;
      const hot = n.isHot(facts.model, facts.optionsSignature, now);
      if (victim && victimHot && !hot) continue;
      let found = false;
      for (const h of this.d.pool.slots.holders(n.id)) {
        const c = this.d.table.get(h.requestId);
        if (!c || !cuttable(c, max)) continue;
        found = true;
        if (!victim || (hot && !victimHot) || h.startedAt > victimStart) {
          victim = c;
          victimNode = n;
          victimHot = hot;
          victimStart = h.startedAt;
        }
      }
      if (!found) this.exhausted.add(n.id);
    }
    if (!victim || !victimNode) return false;
    victim.preemptions++;
    victim.preempting = true;
    this.total++;
    this.freeing.set(victimNode.id, (this.freeing.get(victimNode.id) ?? 0) + 1);
    this.promised.set(victimNode.id, (this.promised.get(victimNode.id) ?? 0) + 1);
    victim.upstreamAbort?.abort(new PreemptedError(victimNode.id));
    return true;
  }

  /** The dispatch of a cut line on `nodeId` has ended: its slot is free. */
  settled(nodeId: string): void {
    const n = (this.freeing.get(nodeId) ?? 1) - 1;
    if (n > 0) this.freeing.set(nodeId, n);
    else this.freeing.delete(nodeId);
  }
}

/** A batch line that has sent nothing yet, is not being ended or moved already, and may be cut again. */
function cuttable(c: RequestContext, max: number): boolean {
  return (
    c.requestClass === 'batch' &&
    c.state === 'dispatching' &&
    c.lease === undefined &&
    c.upstreamAbort !== undefined &&
    !c.started &&
    !c.preempting &&
    c.abortReason === undefined &&
    c.rescue === undefined &&
    c.preemptions < max
  );
}
