/**
 * The rules other tools use, implemented only so bench-compare can show them beside pte-farm's on
 * the same synthetic samples. Each returns true when it would raise an alert for a slowdown of a
 * higher-is-better metric. Never used for a real verdict.
 */
import { normalCdf, tCdf } from "./distributions.ts";
import { mean, median, variance } from "./robust.ts";

/** github-action-benchmark's default `alert-threshold: 200%`: alert when base/head ≥ 2 (means). */
export function ratioThresholdAlert(
  base: readonly number[],
  head: readonly number[],
  threshold = 2,
): boolean {
  return mean(base) / mean(head) >= threshold;
}

/** A fixed threshold on means: alert when the head's mean is `drop` (5%) or more below the base's. */
export function fixedDropAlert(base: readonly number[], head: readonly number[], drop = 0.05): boolean {
  return mean(head) <= (1 - drop) * mean(base);
}

/** Welch's t-test, one-sided p for "head below base" (Bencher's t-test threshold model). */
export function welchLowerP(base: readonly number[], head: readonly number[]): number {
  const va = variance(base) / base.length;
  const vb = variance(head) / head.length;
  const se = Math.sqrt(va + vb);
  if (se === 0) return mean(head) < mean(base) ? 0 : 1;
  const df = (va + vb) ** 2 / (va ** 2 / (base.length - 1) + vb ** 2 / (head.length - 1));
  return tCdf((mean(head) - mean(base)) / se, df);
}

/**
 * Mann–Whitney U, one-sided p for "head stochastically below base", by the normal approximation
 * with a tie correction and continuity correction.
 */
export function mannWhitneyLowerP(base: readonly number[], head: readonly number[]): number {
  const n1 = head.length;
  const n2 = base.length;
  const all = [...head.map((v) => ({ v, g: 0 })), ...base.map((v) => ({ v, g: 1 }))].sort(
    (a, b) => a.v - b.v,
  );
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = r;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  let r1 = 0;
  all.forEach((x, i) => {
    if (x.g === 0) r1 += ranks[i] as number;
  });
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sd === 0) return 1;
  return normalCdf((u - (n1 * n2) / 2 + 0.5) / sd);
}

/**
 * Two-sample Kolmogorov–Smirnov test, two-sided p by the asymptotic Kolmogorov distribution with
 * Stephens' small-sample correction ((√n_e + 0.12 + 0.11/√n_e)·D): what Chromium's Pinpoint uses
 * (catapult dashboard/pinpoint/models/compare/kolmogorov_smirnov.py, adapted from SciPy).
 */
export function kolmogorovSmirnovP(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  const below = (s: readonly number[], v: number) => {
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((s[mid] as number) <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let d = 0;
  for (const v of [...x, ...y]) d = Math.max(d, Math.abs(below(x, v) / x.length - below(y, v) / y.length));
  const en = Math.sqrt((x.length * y.length) / (x.length + y.length));
  const lambda = (en + 0.12 + 0.11 / en) * d;
  if (lambda < 1.1e-16) return 1;
  let p = 0;
  for (let r = 1, sign = 1; r < 200; r++, sign = -sign) {
    const t = Math.exp(-2 * lambda * lambda * r * r);
    p += sign * t;
    if (t === 0 || t / p <= 1.1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * p));
}

/** Pinpoint's significance level for "different" (catapult compare/thresholds.py LowThreshold()). */
export const PINPOINT_LOW_THRESHOLD = 0.01;

/**
 * Chromium Pinpoint's rule (catapult dashboard/pinpoint/models/compare/compare.py, Compare()):
 * p = min(Kolmogorov–Smirnov p, Mann–Whitney U p), both two-sided ("MWU is bad at detecting changes
 * in variance, and K-S is bad with discrete distributions. So use both"); DIFFERENT when p ≤ the
 * low threshold 0.01. Pinpoint is direction-free: an alert here is DIFFERENT with the head's median
 * below the base's.
 */
export function pinpointAlert(base: readonly number[], head: readonly number[]): boolean {
  const mwLower = mannWhitneyLowerP(base, head);
  const mwTwoSided = Math.min(1, 2 * Math.min(mwLower, 1 - mwLower));
  const p = Math.min(kolmogorovSmirnovP(base, head), mwTwoSided);
  return p <= PINPOINT_LOW_THRESHOLD && median(head) < median(base);
}
