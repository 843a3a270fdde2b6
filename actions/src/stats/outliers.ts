/**
 * Reps slowed by something else: on an uncooled board a background task, an interrupt storm or a
 * page-cache miss slows a rep by 15–50% now and then, while the rest of the session moves by a few
 * percent. Such a rep says nothing about the artefact. Trimming alone copes with a few of them,
 * but at 10–20% of reps (one pair in three touched) a trimmed mean's winsorized spread is inflated
 * by them and a real 5% drop goes undecided (scripts/bench-compare.ts, the harsh model).
 *
 * A rep is *slowed* when it is worse than the median of its own side's neighbours (two either side,
 * in measurement order, so the session's thermal drift moves the reference with it) by more than
 * `SLOWED_FLOOR` and by more than `SLOWED_MADS` robust SDs of those residuals. Only the worse
 * direction: nothing makes a rep faster than the machine. The same rule as a human reading a
 * session's plot: "that one rep fell off a cliff". Median/MAD, as in Leys et al. (2013), "Detecting
 * outliers: do not use standard deviation around the mean, use absolute deviation around the
 * median", J. Exp. Soc. Psych. 49(4).
 *
 * Dropping them is only right when they strike both sides alike. A change that makes the head
 * *intermittently* slow is behaviour, not interference: `slowedAsymmetry` tests whether one side has
 * more slowed reps than a fair split of the total would give (binomial, one-sided per side), and
 * the caller then keeps every rep.
 */
import { binomialHalfCdf } from "./median-ci.ts";
import { mad, median } from "./robust.ts";

/** Fewer reps than this on a side: no rep is called slowed (the robust spread is not known yet). */
export const SLOWED_MIN_REPS = 10;
/** Neighbours each side that make a rep's local reference. */
export const SLOWED_WINDOW = 2;
/** A slowed rep is at least this much worse than its neighbours (log scale, ≈ 8%)… */
export const SLOWED_FLOOR = Math.log(1 / 0.92);
/** …and at least this many robust SDs of the side's residuals. */
export const SLOWED_MADS = 3;
/** Below this p, one side's excess of slowed reps is behaviour, and no rep is dropped. */
export const ASYMMETRY_ALPHA = 0.05;

/** For each rep of one side (in measurement order): was it slowed by something else? */
export function slowedReps(samples: readonly number[], better: "higher" | "lower"): boolean[] {
  const n = samples.length;
  if (n < SLOWED_MIN_REPS) return samples.map(() => false);
  // Worse is down on this scale.
  const x = samples.map((v) => (better === "higher" ? Math.log(v) : -Math.log(v)));
  const residual = x.map((v, i) => {
    const lo = Math.max(0, Math.min(i - SLOWED_WINDOW, n - 2 * SLOWED_WINDOW - 1));
    return v - median(x.slice(lo, lo + 2 * SLOWED_WINDOW + 1));
  });
  const limit = Math.max(SLOWED_FLOOR, SLOWED_MADS * mad(residual));
  return residual.map((r) => r < -limit);
}

/**
 * True when one side has significantly more slowed reps than the other (each side tested
 * one-sided at ASYMMETRY_ALPHA): the slowness is then the change's, not the board's.
 */
export function slowedAsymmetry(base: number, head: number): boolean {
  const total = base + head;
  if (total === 0) return false;
  // P(X ≥ k) for X ~ Binomial(total, ½) is P(X ≤ total − k) by symmetry.
  const cdf = binomialHalfCdf(total);
  const upperTail = (k: number) => cdf[total - k] as number;
  return upperTail(head) < ASYMMETRY_ALPHA || upperTail(base) < ASYMMETRY_ALPHA;
}
