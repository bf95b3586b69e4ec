/** What the wait queue orders by. */
export interface Waiting {
  readonly requestId: number;
  /** Higher first. */
  readonly priority: number;
  /** Epoch ms; earlier first among equal priorities. Infinity when there is none. */
  readonly deadline: number;
  /** Epoch ms; earlier first among equal priorities and deadlines. */
  readonly arrivedAt: number;
  /** Tie-breaker that keeps the order total and stable. */
  readonly seq: number;
  readonly model: string;
}

function before(a: Waiting, b: Waiting): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.deadline !== b.deadline) return a.deadline < b.deadline;
  if (a.arrivedAt !== b.arrivedAt) return a.arrivedAt < b.arrivedAt;
  return a.seq < b.seq;
}

/**
 * The requests the balancer holds while no slot suits them, ordered by priority, then deadline,
 * then arrival. A sorted array: depths are bounded by `queue.maxDepth` (about a thousand), the
 * scheduler walks it in order on every freed slot, and removal by id is common (aborts,
 * timeouts), all of which a sorted array does simply and well at that size.
 *
 * @example
 * q.push(w); for (const w of q.inOrder()) if (bind(w)) q.remove(w.requestId);
 */
export class WaitQueue<T extends Waiting = Waiting> {
  private items: T[] = [];
  private readonly byModel = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }

  push(w: T): void {
    // Binary search for the first item that w goes before.
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(w, this.items[mid])) hi = mid;
      else lo = mid + 1;
    }
    this.items.splice(lo, 0, w);
    this.byModel.set(w.model, (this.byModel.get(w.model) ?? 0) + 1);
  }

  remove(requestId: number): T | undefined {
    const i = this.items.findIndex((w) => w.requestId === requestId);
    if (i < 0) return undefined;
    const [w] = this.items.splice(i, 1);
    const n = (this.byModel.get(w.model) ?? 1) - 1;
    if (n > 0) this.byModel.set(w.model, n);
    else this.byModel.delete(w.model);
    return w;
  }

  has(requestId: number): boolean {
    return this.items.some((w) => w.requestId === requestId);
  }

  /** A snapshot in service order (safe to remove items while iterating it). */
  inOrder(): readonly T[] {
    return [...this.items];
  }

  /** Waiting requests per model. */
  depthByModel(): ReadonlyMap<string, number> {
    return this.byModel;
  }

  depthFor(model: string): number {
    return this.byModel.get(model) ?? 0;
  }

  /**
   * How many requests for `model` wait ahead of `requestId` (all of them when it is not in the
   * queue). A walk of the queue: only requests with a hint that needs it ask.
   */
  countAhead(requestId: number, model: string): number {
    let n = 0;
    for (const w of this.items) {
      if (w.requestId === requestId) break;
      if (w.model === model) n++;
    }
    return n;
  }

  /** The earliest deadline of any waiter, or Infinity. */
  earliestDeadline(): number {
    let d = Infinity;
    for (const w of this.items) if (w.deadline < d) d = w.deadline;
    return d;
  }
}
