/** Small seeded random sources, so that every strategy replays byte-for-byte the same trace. */

/** mulberry32: a 32-bit state PRNG, uniform in [0, 1). Tiny, fast and good enough for a workload. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf probabilities over ranks 1..n: p(k) ∝ 1 / k^s. */
export function zipfWeights(n: number, s: number): number[] {
  const raw = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / sum);
}

/** Index drawn from a discrete distribution (weights summing to 1). */
export function pick(rnd: () => number, weights: readonly number[]): number {
  let u = rnd();
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  return weights.length - 1;
}

/** Exponential variate with the given rate (events per unit): Poisson inter-arrival times. */
export function exponential(rnd: () => number, rate: number): number {
  // 1 - u is in (0, 1], so the log is finite.
  return -Math.log(1 - rnd()) / rate;
}

/** Log-uniform integer in [lo, hi]: many short values, a long tail of large ones. */
export function logUniformInt(rnd: () => number, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo))));
}
