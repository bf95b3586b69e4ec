import type { RequestClass } from '../request-class';

/** What the wait queue orders by. */
export interface Waiting {
  readonly requestId: number;
  /** Higher first, within a class. */
  readonly priority: number;
  /** Epoch ms by which it must have a slot; Infinity when there is none. */
  readonly deadline: number;
  /** Epoch ms. */
  readonly arrivedAt: number;
  /** Tie-breaker that keeps the order total and stable. */
  readonly seq: number;
  readonly model: string;
  /** `interactive` when absent: every interactive request goes before every batch line. */
  readonly requestClass?: RequestClass;
  /** Whose share of the queue it takes (fair queuing); absent: the one anonymous key. */
  readonly clientKey?: string;
  /** Back from a retry: it goes ahead of its key's line (its share was charged when it was first served). */
  readonly retry?: boolean;
}

/**
 * The queue's own fields on an item it holds, written by the queue alone. An item made with them in
 * place (`qTag: 0, qPrev: undefined, qNext: undefined, qFlow: undefined, qGone: false`, as admission
 * makes its entries) keeps its shape when pushed, rather than growing five properties there.
 */
export interface QueueLinks {
  qTag: number;
  qPrev: unknown;
  qNext: unknown;
  qFlow: unknown;
  qGone: boolean;
}

/** An item as the queue links it. */
interface Linked extends Waiting, QueueLinks {
  /** Virtual start tag: the order among the keys of a level. */
  qTag: number;
  qPrev: Linked | undefined;
  qNext: Linked | undefined;
  qFlow: Flow;
  qGone: boolean;
}

/** One key's line within a level, oldest first (a retried request at its head). */
interface Flow {
  readonly key: string;
  readonly level: Level;
  head: Linked | undefined;
  tail: Linked | undefined;
  size: number;
  /** Virtual finish tag of its last request: where its next one starts. */
  finish: number;
}

/** One class and priority: the keys that wait there, served fairly. */
interface Level {
  readonly rank: number;
  readonly priority: number;
  readonly flows: Map<string, Flow>;
  size: number;
  /** Virtual time: the start tag of the last request served from the head of its key's line. */
  vtime: number;
}

const CLASS_RANK: Readonly<Record<RequestClass, number>> = { interactive: 0, batch: 1 };
const ANONYMOUS = '';
/** Empty levels and lines kept for reuse (no allocation when the queue empties and refills); past this, they go. */
const KEEP_EMPTY = 32;

/**
 * The requests the balancer holds while no slot suits them. Service order:
 *
 * 1. class: every `interactive` request before any `batch` line, whatever their priorities;
 * 2. priority, higher first;
 * 3. fairness between client keys (`clientKey`; requests without one share one anonymous key):
 *    start-time fair queuing, the virtual-clock form of weighted round robin. Each request of a key
 *    is tagged, as it arrives, where its key's previous one ends (`1 / weight` later), and no
 *    earlier than the level's virtual time (the tag of the last request served from the head of its
 *    key's line): a key that floods the queue lines its requests up far ahead in virtual time, and
 *    a light key's request goes in at the virtual time now, right after the next of the flood's.
 *    Over any stretch in which keys keep requests waiting, each is served in proportion to its weight.
 *    A key that has fallen behind the virtual time (it was idle, or sends less than its share) may
 *    start up to `burst` requests before it (`queue.fairBurst`): a light key's short burst goes ahead
 *    of the flood as a whole, not one request for each of the flood's. That is its only credit: no
 *    key is ever more than `burst` requests ahead of its share, however long it was idle;
 * 4. within a key: arrival, except that a retried request goes to the head of its key's line.
 *
 * Costs: push, remove and lookup by id are O(1) (a line per key and level, doubly linked; a map by
 * id); walking in order merges a level's lines by tag, O(log k) per item for k keys waiting there;
 * levels (distinct class and priority values) are few and kept sorted. Empty levels and lines are
 * kept for reuse, so a queue that empties and refills allocates nothing for them.
 *
 * @example
 * q.push(w); for (const w of q.ordered()) if (bind(w)) q.remove(w.requestId, true);
 */
export class WaitQueue<T extends Waiting = Waiting> {
  /** Sorted: class rank, then priority (highest first). */
  private readonly levels: Level[] = [];
  private readonly levelOf: Map<number, Level>[] = [new Map(), new Map()];
  private readonly byId = new Map<number, T & Linked>();
  private readonly byModel = new Map<string, number>();
  private readonly byClass = [0, 0];
  private emptyFlows = 0;
  /** Set when too many empty lines are kept; the next push drops them (never during a walk). */
  private pruneDue = false;

  /**
   * `weightOf` gives a client key's share (default 1 each), `burst` how many requests a key that
   * fell behind may be tagged before the virtual time; both read at each push (a reload applies at once).
   */
  constructor(
    private readonly weightOf: (key: string | undefined) => number = () => 1,
    private readonly burst: () => number = () => 0,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Waiting requests of a class. */
  sizeOf(cls: RequestClass): number {
    return this.byClass[CLASS_RANK[cls]];
  }

  push(w: T): void {
    if (this.byId.has(w.requestId)) return;
    if (this.pruneDue) this.prune();
    const level = this.level(CLASS_RANK[w.requestClass ?? 'interactive'], w.priority);
    const flow = this.flow(level, w.clientKey);
    const item = w as T & Linked;
    item.qFlow = flow;
    item.qGone = false;
    item.qPrev = item.qNext = undefined;
    if (flow.size === 0) this.emptyFlows--;
    if (w.retry && flow.head) {
      // Ahead of its key's line, at the virtual time now: its key's share was charged when it was first served.
      item.qTag = Math.min(level.vtime, flow.head.qTag);
      item.qNext = flow.head;
      flow.head.qPrev = item;
      flow.head = item;
    } else {
      const cost = 1 / this.weight(w.clientKey);
      // A key that fell behind the virtual time (idle, or light) starts up to `burst` requests before it.
      const start = w.retry ? level.vtime : Math.max(level.vtime - this.burst() * cost, flow.finish);
      item.qTag = start;
      if (!w.retry) flow.finish = start + cost;
      if (flow.tail) {
        flow.tail.qNext = item;
        item.qPrev = flow.tail;
      } else flow.head = item;
      flow.tail = item;
    }
    flow.size++;
    level.size++;
    this.byClass[level.rank]++;
    this.byId.set(w.requestId, item);
    this.byModel.set(w.model, (this.byModel.get(w.model) ?? 0) + 1);
  }

  /**
   * Takes a request out of the queue. `served`: it was bound, so its level's virtual time moves to
   * its tag when it was the head of its key's line (one bound out of turn, past its key's head that
   * could not be placed, does not move the clock for everyone).
   */
  remove(requestId: number, served = false): T | undefined {
    const item = this.byId.get(requestId);
    if (item === undefined) return undefined;
    this.byId.delete(requestId);
    const flow = item.qFlow;
    const level = flow.level;
    if (served && flow.head === item) level.vtime = Math.max(level.vtime, item.qTag);
    // Its own links stay as they were, so a walk standing on it can still step on.
    if (item.qPrev) item.qPrev.qNext = item.qNext;
    else flow.head = item.qNext as (T & Linked) | undefined;
    if (item.qNext) item.qNext.qPrev = item.qPrev;
    else flow.tail = item.qPrev as (T & Linked) | undefined;
    item.qGone = true;
    flow.size--;
    level.size--;
    this.byClass[level.rank]--;
    if (flow.size === 0 && ++this.emptyFlows > KEEP_EMPTY) this.pruneDue = true;
    const n = (this.byModel.get(item.model) ?? 1) - 1;
    if (n > 0) this.byModel.set(item.model, n);
    else this.byModel.delete(item.model);
    return item;
  }

  /** Puts `next` in the place of the waiting request it is a changed copy of (same id: a model switch). */
  replace(next: T): void {
    const old = this.byId.get(next.requestId);
    if (old === undefined) return;
    const item = next as T & Linked;
    Object.assign(item, { qTag: old.qTag, qPrev: old.qPrev, qNext: old.qNext, qFlow: old.qFlow, qGone: false });
    const flow = old.qFlow;
    if (old.qPrev) old.qPrev.qNext = item;
    else flow.head = item;
    if (old.qNext) old.qNext.qPrev = item;
    else flow.tail = item;
    old.qGone = true;
    this.byId.set(next.requestId, item);
    if (old.model !== next.model) {
      const n = (this.byModel.get(old.model) ?? 1) - 1;
      if (n > 0) this.byModel.set(old.model, n);
      else this.byModel.delete(old.model);
      this.byModel.set(next.model, (this.byModel.get(next.model) ?? 0) + 1);
    }
  }

  has(requestId: number): boolean {
    return this.byId.has(requestId);
  }

  get(requestId: number): T | undefined {
    return this.byId.get(requestId);
  }

  /**
   * The waiting requests in service order, lazily: a pass that stops early walks only what it
   * needs. Removing the request just yielded (or any other) while walking is safe; requests pushed
   * meanwhile may or may not be seen.
   */
  *ordered(): Generator<T, void, undefined> {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i];
      if (level.size === 0) continue;
      if (level.flows.size === 1 || level.size === 1) {
        // One key waiting here (the common case): its line as it is, without a merge.
        for (const f of level.flows.values()) {
          for (let w = f.head; w;) {
            const next = w.qNext;
            if (!w.qGone) yield w as unknown as T;
            w = next;
          }
        }
        continue;
      }
      yield* merge<T>(level);
    }
  }

  /** A snapshot in service order (safe to remove items while iterating it). */
  inOrder(): readonly T[] {
    return [...this.ordered()];
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
    for (const w of this.ordered()) {
      if (w.requestId === requestId) break;
      if (w.model === model) n++;
    }
    return n;
  }

  /** The earliest deadline of any waiter, or Infinity (a walk, without allocating). */
  earliestDeadline(): number {
    let d = Infinity;
    for (const level of this.levels) {
      if (level.size === 0) continue;
      for (const f of level.flows.values()) for (let w = f.head; w; w = w.qNext) if (w.deadline < d) d = w.deadline;
    }
    return d;
  }

  private weight(key: string | undefined): number {
    const w = this.weightOf(key);
    return w > 0 && Number.isFinite(w) ? w : 1;
  }

  private level(rank: number, priority: number): Level {
    let level = this.levelOf[rank].get(priority);
    if (level !== undefined) return level;
    level = { rank, priority, flows: new Map(), size: 0, vtime: 0 };
    this.levelOf[rank].set(priority, level);
    let i = 0;
    while (i < this.levels.length && (this.levels[i].rank < rank || (this.levels[i].rank === rank && this.levels[i].priority > priority))) i++;
    this.levels.splice(i, 0, level);
    return level;
  }

  private flow(level: Level, clientKey: string | undefined): Flow {
    const key = clientKey ?? ANONYMOUS;
    let flow = level.flows.get(key);
    if (flow !== undefined) return flow;
    flow = { key, level, head: undefined, tail: undefined, size: 0, finish: -Infinity };
    level.flows.set(key, flow);
    this.emptyFlows++;
    return flow;
  }

  /** Drops the empty lines, and the levels left with none (a key or priority that comes back starts afresh). */
  private prune(): void {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const level = this.levels[i];
      for (const [key, f] of level.flows) if (f.size === 0) level.flows.delete(key);
      if (level.flows.size === 0) {
        this.levels.splice(i, 1);
        this.levelOf[level.rank].delete(level.priority);
      }
    }
    this.emptyFlows = 0;
    this.pruneDue = false;
  }
}

/** A level's lines merged by start tag (then arrival sequence): a binary heap of the lines' next requests. */
function* merge<T>(level: Level): Generator<T, void, undefined> {
  const heap: Linked[] = [];
  for (const f of level.flows.values()) if (f.head) heapPush(heap, f.head);
  while (heap.length > 0) {
    const w = heapPop(heap);
    let next = w.qNext;
    while (next?.qGone) next = next.qNext;
    if (next) heapPush(heap, next);
    if (!w.qGone) yield w as unknown as T;
  }
}

function earlier(a: Linked, b: Linked): boolean {
  return a.qTag !== b.qTag ? a.qTag < b.qTag : a.seq < b.seq;
}

function heapPush(h: Linked[], w: Linked): void {
  h.push(w);
  for (let i = h.length - 1; i > 0;) {
    const p = (i - 1) >> 1;
    if (!earlier(h[i], h[p])) break;
    [h[i], h[p]] = [h[p], h[i]];
    i = p;
  }
}

function heapPop(h: Linked[]): Linked {
  const top = h[0];
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l], h[m])) m = l;
      if (r < h.length && earlier(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
  return top;
}
