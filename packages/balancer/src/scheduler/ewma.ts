/**
 * An exponentially weighted moving average. The first sample is taken as is, so a new estimate does
 * not crawl up from zero.
 */
export class Ewma {
  private v = 0;
  private n = 0;
  constructor(private readonly alpha = 0.2) {}

  update(x: number): number {
    if (!Number.isFinite(x)) return this.v;
    this.v = this.n === 0 ? x : this.alpha * x + (1 - this.alpha) * this.v;
    this.n++;
    return this.v;
  }

  /** The average, or `fallback` before the first sample. */
  value(fallback = 0): number {
    return this.n === 0 ? fallback : this.v;
  }

  get count(): number {
    return this.n;
  }
}
