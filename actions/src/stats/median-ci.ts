/**
 * A confidence interval for a median that assumes nothing about the distribution: bench samples
 * on a board are skewed (a background task slows one rep by 30%, nothing speeds one up), so a
 * t-interval would be wrong exactly where it matters. Each sample falls below the true median
 * with probability ½, so the number below it is Binomial(n, ½), and the interval between the k-th
 * smallest and k-th largest sample covers the median with probability 1 − 2·P(B ≤ k−1). With
 * fewer than 6 samples no pair of order statistics reaches 95% (for n = 5 even [min, max] covers
 * only 93.75%), so there is no interval to give.
 */

export interface MedianCi {
  lo: number;
  hi: number;
  /** The coverage actually reached (≥ the asked confidence: order statistics give discrete steps). */
  coverage: number;
  /** `lo` is the k-th smallest sample and `hi` the k-th largest (1-based). */
  k: number;
}

const cdfs = new Map<number, readonly number[]>();

/**
 * P(B ≤ j) for B ~ Binomial(n, ½), for j = 0..n, computed in log space so large n stays exact
 * enough. Kept per n: a history's nights have the same few rep counts, asked for thousands of times.
 */
export function binomialHalfCdf(n: number): readonly number[] {
  const known = cdfs.get(n);
  if (known !== undefined) return known;
  const cdf: number[] = [];
  let logC = 0; // log C(n, j)
  let total = 0;
  const logHalfN = n * Math.log(0.5);
  for (let j = 0; j <= n; j++) {
    if (j > 0) logC += Math.log(n - j + 1) - Math.log(j);
    total += Math.exp(logC + logHalfN);
    cdf.push(Math.min(1, total));
  }
  if (cdfs.size < 4096) cdfs.set(n, cdf);
  return cdf;
}

/**
 * The distribution-free interval for the median of `samples` at `confidence` (default 0.95), or
 * null when there are too few samples for any interval to reach it.
 */
export function medianCi(samples: readonly number[], confidence = 0.95): MedianCi | null {
  if (!(confidence > 0 && confidence < 1)) throw new Error(`bug: confidence ${confidence} is not in (0, 1)`);
  const n = samples.length;
  if (n === 0) return null;
  const cdf = binomialHalfCdf(n);
  const alpha = 1 - confidence;
  // The largest k with 2·P(B ≤ k−1) ≤ α: the narrowest symmetric pair that still covers.
  let k = 0;
  for (let j = 1; j <= Math.floor((n + 1) / 2); j++) {
    if (2 * (cdf[j - 1] as number) <= alpha) k = j;
    else break;
  }
  if (k === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    lo: sorted[k - 1] as number,
    hi: sorted[n - k] as number,
    coverage: 1 - 2 * (cdf[k - 1] as number),
    k,
  };
}
