/**
 * Change points in a series (one value per night) by binary segmentation with a rank test:
 * within a segment, the split is where Pettitt's statistic (the CUSUM of centred ranks, a
 * Mann–Whitney U for every split at once) is largest; it is a change point when that is
 * significant and the medians either side differ by at least the metric's minimum effect. Then
 * each side is searched again.
 *
 * Robust by construction: ranks, so one outlier night moves the statistic by at most one rank;
 * both sides at least `minSegment` nights long; and the medians, not means, must differ by δ.
 *
 * p-values: a seeded permutation test of the same statistic for segments up to `exactUpTo` nights
 * (where Pettitt's asymptotic formula is loose), the asymptotic p ≈ 2·exp(−6K²/(n³+n²)) beyond.
 */

import { seededRng } from "./rng.ts";
import { mad, median } from "./robust.ts";

export interface ChangePointOptions {
  /** Nights on each side of a change point, at least. */
  minSegment: number;
  /** Significance level of each split's test. */
  alpha: number;
  /** Smallest change of the median worth reporting, as a fraction. */
  minEffect: number;
  permutations: number;
  exactUpTo: number;
  seed: number;
}

export const DEFAULT_CHANGE_POINT_OPTIONS: ChangePointOptions = {
  minSegment: 5,
  alpha: 0.01,
  minEffect: 0.03,
  permutations: 999,
  exactUpTo: 200,
  seed: 1,
};

export interface RawChangePoint {
  /** The first index of the new level. */
  index: number;
  p_value: number;
  before_median: number;
  after_median: number;
  /** after / before. */
  ratio: number;
}

function ranks(xs: readonly number[]): Float64Array {
  const order = xs.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const r = new Float64Array(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as { v: number }).v === (order[i] as { v: number }).v) j++;
    for (let k = i; k <= j; k++) r[(order[k] as { i: number }).i] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Pettitt's K = max |U_k| over allowed splits, and the k (size of the first part) that attains it. */
function pettitt(r: Float64Array, minSegment: number): { k: number; stat: number } {
  const n = r.length;
  let cum = 0;
  let best = { k: -1, stat: -1 };
  for (let k = 1; k < n - minSegment + 1; k++) {
    cum += r[k - 1] as number;
    if (k < minSegment) continue;
    const u = Math.abs(2 * cum - k * (n + 1));
    if (u > best.stat) best = { k, stat: u };
  }
  return best;
}

/**
 * Where in a window the level changes: the split that best fits two constant levels (least
 * squares, O(n) by prefix sums), on values clipped to median ± 3·MAD so one wild night cannot
 * pull it. Pettitt's maximum says *whether* there is a change; it places it poorly (a rank below
 * the middle on the high side pulls its CUSUM down, so it lands a few nights early).
 */
function locate(values: readonly number[], minSegment: number): number {
  const n = values.length;
  const m = median(values);
  const spread = 3 * mad(values) || Number.POSITIVE_INFINITY;
  const x = values.map((v) => Math.min(Math.max(v, m - spread), m + spread));
  const total = x.reduce((a, b) => a + b, 0);
  let cum = 0;
  let best = { k: -1, gain: -1 };
  for (let k = 1; k <= n - minSegment; k++) {
    cum += x[k - 1] as number;
    if (k < minSegment) continue;
    const gain = (cum * cum) / k + ((total - cum) * (total - cum)) / (n - k);
    if (gain > best.gain) best = { k, gain };
  }
  return best.k;
}

function splitTest(values: readonly number[], opts: ChangePointOptions, rngSeed: number) {
  const r = ranks(values);
  const n = r.length;
  const found = pettitt(r, opts.minSegment);
  if (found.k < 0) return null;
  let p: number;
  if (n <= opts.exactUpTo) {
    const rng = seededRng(rngSeed);
    const perm = Float64Array.from(r);
    let atLeast = 0;
    for (let b = 0; b < opts.permutations; b++) {
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = perm[i] as number;
        perm[i] = perm[j] as number;
        perm[j] = t;
      }
      if (pettitt(perm, opts.minSegment).stat >= found.stat) atLeast++;
    }
    p = (atLeast + 1) / (opts.permutations + 1);
  } else {
    p = Math.min(1, 2 * Math.exp((-6 * found.stat * found.stat) / (n ** 3 + n ** 2)));
  }
  return { k: locate(values, opts.minSegment), p };
}

/**
 * Re-locates each cut within the window between its neighbours. Binary segmentation can place a
 * first cut inside a middle level when there are two steps; once the neighbours are known, the
 * window holds one step. A few passes until nothing moves.
 */
function refine(logs: readonly number[], cuts: { index: number }[], minSegment: number): void {
  for (let pass = 0; pass < 5; pass++) {
    let moved = false;
    cuts.forEach((c, i) => {
      const lo = i === 0 ? 0 : (cuts[i - 1] as { index: number }).index;
      const hi = i === cuts.length - 1 ? logs.length : (cuts[i + 1] as { index: number }).index;
      const k = locate(logs.slice(lo, hi), minSegment);
      if (k >= 0 && lo + k !== c.index) {
        c.index = lo + k;
        moved = true;
      }
    });
    if (!moved) return;
  }
}

export function detectChangePoints(
  values: readonly number[],
  options: Partial<ChangePointOptions> = {},
): RawChangePoint[] {
  const opts = { ...DEFAULT_CHANGE_POINT_OPTIONS, ...options };
  const logs = values.map(Math.log);
  const delta = Math.log1p(opts.minEffect);
  const cuts: { index: number; p: number }[] = [];
  const stack: [number, number][] = [[0, logs.length]];
  while (stack.length > 0) {
    const [s, e] = stack.pop() as [number, number];
    if (e - s < 2 * opts.minSegment) continue;
    const seg = logs.slice(s, e);
    const test = splitTest(seg, opts, opts.seed + s * 7919 + e);
    if (test === null || test.p > opts.alpha) continue;
    const shift = median(seg.slice(test.k)) - median(seg.slice(0, test.k));
    if (Math.abs(shift) < delta) continue;
    cuts.push({ index: s + test.k, p: test.p });
    stack.push([s, s + test.k], [s + test.k, e]);
  }
  cuts.sort((a, b) => a.index - b.index);
  refine(logs, cuts, opts.minSegment);
  // Levels from the final segmentation: the medians of the segments either side of each cut. A
  // cut whose levels ended up closer than δ after refinement is dropped (once, then re-measured).
  const levels = (kept: typeof cuts): RawChangePoint[] => {
    const bounds = [0, ...kept.map((c) => c.index), values.length];
    return kept.map((c, i) => {
      const before = median(values.slice(bounds[i], bounds[i + 1]));
      const after = median(values.slice(bounds[i + 1], bounds[i + 2]));
      return {
        index: c.index,
        p_value: c.p,
        before_median: before,
        after_median: after,
        ratio: after / before,
      };
    });
  };
  const first = levels(cuts);
  const kept = cuts.filter((_, i) => Math.abs(Math.log((first[i] as RawChangePoint).ratio)) >= delta);
  return kept.length === cuts.length ? first : levels(kept);
}
