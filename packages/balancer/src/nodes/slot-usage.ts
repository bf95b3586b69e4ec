/** The width of one bucket of the recent window (ms). */
export const USAGE_BUCKET_MS = 1_000;
/** The recent window: its buckets, so it spans the last minute to the second. */
const BUCKETS = 60;
/** How far back {@link NodeUsage.lastMinute} looks (ms). */
export const USAGE_WINDOW_MS = USAGE_BUCKET_MS * BUCKETS;

/**
 * A node's utilization, as `PoolView.usage` shows it: busy slot time over capacity slot time.
 * Busy slot time is the node's in-flight count integrated over time (a request holds its slot from
 * binding to completion, so a cold load counts as busy); capacity is its slots
 * (`maxConcurrentRequests`) integrated over the same time, whatever the node's health: a node out
 * of rotation counts as idle, not as absent.
 */
export interface NodeUsage {
  /** Busy slot-ms since the node joined the pool (at start, or when it was added). */
  readonly busySlotMs: number;
  /** Capacity slot-ms over the same time. */
  readonly capacitySlotMs: number;
  /** busySlotMs ÷ capacitySlotMs, in [0, 1]; 0 before any time has passed. */
  readonly sinceStart: number;
  /** The same over the last minute (59–60 s, to the bucket of a second; less for a node younger than that). */
  readonly lastMinute: number;
}

/**
 * The accumulator behind {@link NodeUsage}: no timer, no per-request state. The slot table calls
 * {@link advance} with the in-flight count that held until now, just before it changes it (bind,
 * completion), and a reload calls it before a node's slots change; a reader adds the time since the
 * last change itself ({@link read}), so reading changes nothing. The last minute is 60 buckets of a
 * second each, a ring indexed by the bucket number; an idle gap longer than the window clears them
 * all at once.
 */
export class SlotUsage {
  private busyTotal = 0;
  private capacityTotal = 0;
  private readonly busy = new Float64Array(BUCKETS);
  private readonly capacity = new Float64Array(BUCKETS);
  /** When the counts above were last brought up to date (the scheduler's clock, epoch ms). */
  private last: number;
  /** The bucket number (`floor(ms / USAGE_BUCKET_MS)`) of `last`. */
  private bucket: number;

  constructor(since: number) {
    this.last = since;
    this.bucket = Math.floor(since / USAGE_BUCKET_MS);
  }

  /** Books the time since the last call at `inFlight` of `slots` busy. A clock that steps back books nothing. */
  advance(now: number, inFlight: number, slots: number): void {
    if (!(now > this.last)) return;
    this.busyTotal += inFlight * (now - this.last);
    this.capacityTotal += slots * (now - this.last);
    const nowBucket = Math.floor(now / USAGE_BUCKET_MS);
    // Only the part of the interval inside the window can land in a bucket.
    let t = Math.max(this.last, (nowBucket - BUCKETS + 1) * USAGE_BUCKET_MS);
    while (t < now) {
      const b = Math.floor(t / USAGE_BUCKET_MS);
      this.rotateTo(b);
      const stop = Math.min(now, (b + 1) * USAGE_BUCKET_MS);
      const i = slotOf(b);
      this.busy[i] += inFlight * (stop - t);
      this.capacity[i] += slots * (stop - t);
      t = stop;
    }
    this.rotateTo(nowBucket);
    this.last = now;
  }

  /** The utilization at `now`, with `inFlight` of `slots` busy since the last {@link advance}. */
  read(now: number, inFlight: number, slots: number): NodeUsage {
    const at = Math.max(now, this.last);
    const pending = at - this.last;
    const busySlotMs = this.busyTotal + inFlight * pending;
    const capacitySlotMs = this.capacityTotal + slots * pending;
    const first = Math.floor(at / USAGE_BUCKET_MS) - BUCKETS + 1;
    let busy = 0;
    let capacity = 0;
    for (let b = Math.max(first, this.bucket - BUCKETS + 1); b <= this.bucket; b++) {
      busy += this.busy[slotOf(b)];
      capacity += this.capacity[slotOf(b)];
    }
    const from = Math.max(this.last, first * USAGE_BUCKET_MS);
    if (at > from) {
      busy += inFlight * (at - from);
      capacity += slots * (at - from);
    }
    return { busySlotMs, capacitySlotMs, sinceStart: ratio(busySlotMs, capacitySlotMs), lastMinute: ratio(busy, capacity) };
  }

  /** Moves the ring's head to bucket `b`, clearing the buckets it passes (all of them after a long gap). */
  private rotateTo(b: number): void {
    const steps = Math.min(BUCKETS, b - this.bucket);
    for (let k = 1; k <= steps; k++) {
      const i = slotOf(this.bucket + k);
      this.busy[i] = 0;
      this.capacity[i] = 0;
    }
    if (b > this.bucket) this.bucket = b;
  }
}

function slotOf(bucket: number): number {
  return ((bucket % BUCKETS) + BUCKETS) % BUCKETS;
}

function ratio(busy: number, capacity: number): number {
  return capacity > 0 ? Math.min(1, busy / capacity) : 0;
}
