import type { RequestEnd, SchedulerObserver } from '@ollama-ring/balancer';

/** The kinds of error the dashboard counts: how requests ended badly, and refusals at the door. */
export const ERROR_KINDS = ['upstream_error', 'timeout', 'rejected', 'client_error', 'backpressure'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/**
 * One second of the pool's traffic, as the dashboard's charts plot it. Times in ms; a quantile is
 * null in a second without any value to take it of.
 */
export interface SeriesSample {
  /** The second's end, epoch ms. */
  t: number;
  /** Requests that ended (aborted by their client not counted), and those that ended well. */
  req: number;
  ok: number;
  /** Time to first byte of the requests that ended well this second. */
  ttft50: number | null;
  ttft99: number | null;
  /** Time waited for a slot by the requests bound this second. */
  wait50: number | null;
  wait99: number | null;
  /** Requests bound to a node that had to load their model. */
  cold: number;
  /** Errors by kind (kinds without any left out). */
  err: Partial<Record<ErrorKind, number>>;
  /** Requests ended and tokens generated, by node (nodes without any left out). */
  reqBy: Record<string, number>;
  tokBy: Record<string, number>;
}

/** The q-quantile (0..1) of `values` by nearest rank, rounded to ms; null for none. Sorts `values`. */
function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return Math.round(values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))]);
}

/**
 * The dashboard's time series: hears the scheduler's reports (`observer`, subscribed through
 * `PipelineFactory.observe`), counts them into the current second, and keeps the last `capacity`
 * seconds in a ring, so that a page opened now starts with the last minutes. Its methods run in the
 * scheduler's batch: each is a counter bump or an array push; the quantiles are taken once a second.
 *
 * @example
 * const series = new SeriesRecorder(300);
 * const off = factory.observe(series.observer);
 * setInterval(() => series.close(Date.now()), 1000);
 */
export class SeriesRecorder {
  readonly observer: SchedulerObserver;
  private readonly ring: SeriesSample[] = [];
  private next = 0;
  private req = 0;
  private ok = 0;
  private cold = 0;
  private ttft: number[] = [];
  private wait: number[] = [];
  private err: Partial<Record<ErrorKind, number>> = {};
  private reqBy: Record<string, number> = {};
  private tokBy: Record<string, number> = {};

  constructor(private readonly capacity: number) {
    this.observer = {
      requestEnded: (e) => this.ended(e),
      coldLoad: () => void this.cold++,
      queueWait: (ms) => void this.wait.push(ms),
      // Refused before it was admitted, so no request end follows (the other refusals end as `rejected`).
      rejected: (kind, detail) => {
        if (kind === 'backpressure' && detail === 'maxGlobalInFlight') this.bump(this.err, 'backpressure', 1);
      },
    };
  }

  /** Ends the current second at `now` (epoch ms): its sample joins the ring and is returned. */
  close(now: number): SeriesSample {
    const s: SeriesSample = {
      t: now,
      req: this.req,
      ok: this.ok,
      ttft50: quantile(this.ttft, 0.5),
      ttft99: quantile(this.ttft, 0.99),
      wait50: quantile(this.wait, 0.5),
      wait99: quantile(this.wait, 0.99),
      cold: this.cold,
      err: this.err,
      reqBy: this.reqBy,
      tokBy: this.tokBy,
    };
    this.req = this.ok = this.cold = 0;
    this.ttft = [];
    this.wait = [];
    this.err = {};
    this.reqBy = {};
    this.tokBy = {};
    if (this.ring.length < this.capacity) this.ring.push(s);
    else this.ring[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
    return s;
  }

  /** The last sample taken, or an empty one at `now` before the first. */
  latest(now: number): SeriesSample {
    if (this.ring.length === 0) return { t: now, req: 0, ok: 0, ttft50: null, ttft99: null, wait50: null, wait99: null, cold: 0, err: {}, reqBy: {}, tokBy: {} };
    return this.ring[(this.next + this.capacity - 1) % this.capacity] ?? this.ring[this.ring.length - 1];
  }

  /** The samples held, oldest first. */
  history(): SeriesSample[] {
    return this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  /** Per node, the mean requests and tokens per second over the last `seconds` samples. */
  rates(seconds: number): Map<string, { reqPerSec: number; tokensPerSec: number }> {
    const h = this.history().slice(-seconds);
    const out = new Map<string, { reqPerSec: number; tokensPerSec: number }>();
    if (h.length === 0) return out;
    for (const s of h) {
      for (const [n, v] of Object.entries(s.reqBy)) this.row(out, n).reqPerSec += v / h.length;
      for (const [n, v] of Object.entries(s.tokBy)) this.row(out, n).tokensPerSec += v / h.length;
    }
    return out;
  }

  private row(m: Map<string, { reqPerSec: number; tokensPerSec: number }>, node: string): { reqPerSec: number; tokensPerSec: number } {
    let r = m.get(node);
    if (!r) m.set(node, (r = { reqPerSec: 0, tokensPerSec: 0 }));
    return r;
  }

  private ended(e: RequestEnd): void {
    // A client that left is no error of the pool's, and no request served either.
    if (e.outcome === 'aborted') return;
    this.req++;
    if (e.nodeId) this.bump(this.reqBy, e.nodeId, 1);
    if (e.nodeId && e.evalTokens > 0) this.bump(this.tokBy, e.nodeId, e.evalTokens);
    if (e.outcome === 'success') {
      this.ok++;
      if (e.ttftMs > 0) this.ttft.push(e.ttftMs);
    } else this.bump(this.err, e.outcome, 1);
  }

  private bump<K extends string>(m: Partial<Record<K, number>>, k: K, by: number): void {
    m[k] = (m[k] ?? 0) + by;
  }
}
