/**
 * Robust location and scale for small samples with outliers: a Pi rep slowed 15–40% by a
 * background task must not move the answer, so compare uses trimmed means (Yuen) and detect uses
 * medians and MAD, never plain means.
 */

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  // A typed array sorts numbers natively: several times faster than a comparator over a copy,
  // which matters to the dashboard's and detect's millions of nightly medians.
  const s = Float64Array.from(xs).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median absolute deviation, scaled (×1.4826) to estimate a normal standard deviation. */
export function mad(xs: readonly number[]): number {
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
}

/** How many values a γ-trimmed mean drops from each end: floor(γn). */
export function trimCount(n: number, gamma: number): number {
  return Math.floor(gamma * n);
}

/** The γ-trimmed mean: drops floor(γn) values from each end. γ = 0.2 is Wilcox's default. */
export function trimmedMean(xs: readonly number[], gamma = 0.2): number {
  const s = sorted(xs);
  const g = trimCount(s.length, gamma);
  const kept = s.slice(g, s.length - g);
  if (kept.length === 0) throw new Error("trimmed mean of nothing");
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

/** The γ-winsorized sample variance (n − 1 denominator), the scale behind Yuen's trimmed-mean tests. */
export function winsorizedVariance(xs: readonly number[], gamma = 0.2): number {
  const n = xs.length;
  if (n < 2) return 0;
  const s = sorted(xs);
  const g = trimCount(n, gamma);
  const lo = s[g] as number;
  const hi = s[n - g - 1] as number;
  const w = s.map((x) => Math.min(Math.max(x, lo), hi));
  const mean = w.reduce((a, b) => a + b, 0) / n;
  return w.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample variance (n − 1 denominator). */
export function variance(xs: readonly number[]): number {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}
