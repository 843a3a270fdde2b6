/**
 * From a log-scale effect to a verdict, with a minimum effect of interest δ:
 *
 * - **regression** (improvement): the CI excludes no-change on the worse (better) side *and* the
 *   estimate is at least δ. A real 1% change is not a regression worth a red X;
 * - **unchanged**: a 90% CI lies within ±δ: the two one-sided tests (TOST, α = 0.05 each) of
 *   equivalence, "no change of δ or more". A looser level than the regression test on purpose: a
 *   wrong "unchanged" for a change just at δ costs less than a false alarm, and demanding 99%
 *   here would push every unchanged compare to the reps cap;
 * - **inconclusive** otherwise, with `more_samples`: the reps per side that would shrink the CI
 *   enough to decide, estimated from the observed per-rep spread, capped at `maxReps`. It is 0
 *   when more reps cannot help: at the cap, or when the between-session term alone is too wide
 *   (then interleave base and head in one session instead).
 *
 * The CI is a t interval at `confidence`. Without `sequential` it is a fixed-sample interval, right
 * for one look at the data. With `sequential` (what compare uses) it is one interval of a
 * *sequence* whose coverage holds over every look from `firstLook` to `maxReps` reps per side at
 * once (stats/sequential.ts): an adaptive compare looks after each block of reps, and a fixed 99%
 * interval per look would cry wolf more than 1% of the time over those looks. Below `firstLook`
 * such a compare gives no regression or improvement verdict.
 */

import type { Verdict } from "../schemas/comparison.ts";
import { tQuantile, tTwoSidedP } from "./distributions.ts";
import type { LogEffect } from "./paired.ts";
import { sequentialLevel } from "./sequential.ts";

/** Each one-sided test of the equivalence (unchanged) verdict. */
export const EQUIVALENCE_ALPHA = 0.05;

export interface DecideOptions {
  better: "higher" | "lower";
  /** Smallest change worth reporting, as a fraction (0.03 = 3%). */
  minEffect: number;
  /** Two-sided confidence of the CI, e.g. 0.99. */
  confidence: number;
  /** SD of the log offset between two sessions' levels; 0 when base and head are paired. */
  betweenSd: number;
  /** Reps per side beyond which more_samples is 0. */
  maxReps: number;
  /**
   * Set when the data may be looked at more than once as reps are added (any schedule of looks
   * from `firstLook` to `maxReps`): `confidence` is then the coverage of the whole sequence of
   * intervals, not of one. Absent: one look, a fixed-sample interval (the historical behaviour).
   */
  sequential?: { firstLook: number };
}

export interface Decision {
  verdict: Verdict;
  /** head / base (the estimate, back from the log scale). */
  ratio: number;
  ci: [number, number];
  p_value: number;
  more_samples: number;
  /** Why more_samples is 0 while inconclusive, or other context for people. */
  note: string | null;
}

export function decide(effect: LogEffect, opts: DecideOptions): Decision {
  const { estimate: est, se, df, n } = effect;
  const total = Math.sqrt(se * se + opts.betweenSd * opts.betweenSd);
  const seq = opts.sequential;
  // One-sided level of the interval at n reps per side (before the first look: the first look's
  // level for the CI shown, but no regression or improvement verdict).
  const levelAt = (reps: number): number =>
    seq === undefined
      ? 1 - (1 - opts.confidence) / 2
      : sequentialLevel(
          Math.max(reps, seq.firstLook),
          (1 - opts.confidence) / 2,
          seq.firstLook,
          opts.maxReps,
        );
  const mayDecide = seq === undefined || n >= seq.firstLook;
  const tq = tQuantile(levelAt(n), df);
  const lo = est - tq * total;
  const hi = est + tq * total;
  const p = total === 0 ? (est === 0 ? 1 : 0) : tTwoSidedP(est / total, df);
  const delta = Math.log1p(opts.minEffect);
  const worseSign = opts.better === "higher" ? -1 : 1;
  const worse = worseSign * est;
  const worseLo = Math.min(worseSign * lo, worseSign * hi);
  const worseHi = Math.max(worseSign * lo, worseSign * hi);

  const tqEq = tQuantile(1 - EQUIVALENCE_ALPHA, df);
  const eqLo = est - tqEq * total;
  const eqHi = est + tqEq * total;

  let verdict: Verdict;
  if (mayDecide && worseLo > 0 && worse >= delta) verdict = "regression";
  else if (mayDecide && worseHi < 0 && -worse >= delta) verdict = "improvement";
  else if (eqLo > -delta && eqHi < delta) verdict = "unchanged";
  else verdict = "inconclusive";

  let more = 0;
  let note: string | null = null;
  if (verdict === "inconclusive") {
    const a = Math.abs(est);
    // Half-width that would decide: exclude 0 when the estimate is past δ, else fit within ±δ.
    const past = a >= delta;
    const target = 0.9 * (past ? a : Math.max(delta - a, delta / 4));
    const perRepVar = se * se * n;
    if (seq !== undefined) {
      const found = sequentialMore(n, df, perRepVar, target, past, levelAt, opts);
      return {
        verdict,
        ratio: Math.exp(est),
        ci: [Math.exp(lo), Math.exp(hi)],
        p_value: p,
        more_samples: found.more,
        note: found.note,
      };
    }
    const level = past ? 1 - (1 - opts.confidence) / 2 : 1 - EQUIVALENCE_ALPHA;
    // The t quantile at the reps we will end with, not at today's few (t at 5 df is twice z):
    // project once with today's df, then again with the projected one.
    const roomAt = (dfAt: number) => (target / tQuantile(level, dfAt)) ** 2 - opts.betweenSd ** 2;
    let room = roomAt(df);
    if (room > 0) room = roomAt(Math.max(df, (df * perRepVar) / room / n));
    if (n >= opts.maxReps) {
      note = `at the cap of ${opts.maxReps} reps per side`;
    } else if (room <= 0) {
      note = INTERLEAVE_NOTE;
    } else {
      const need = Math.ceil(perRepVar / room);
      more = Math.min(Math.max(need - n, 1), opts.maxReps - n);
    }
  }
  return {
    verdict,
    ratio: Math.exp(est),
    ci: [Math.exp(lo), Math.exp(hi)],
    p_value: p,
    more_samples: more,
    note,
  };
}

const INTERLEAVE_NOTE =
  "the between-session variation alone is wider than this effect: more reps will not decide it; " +
  "measure base and head interleaved in one session";

/**
 * more_samples for a sequential compare: the fewest reps per side (up to the cap) whose interval,
 * at that n's level of the sequence and with the observed per-rep spread, would be narrow enough
 * to decide; the cap when none is.
 */
function sequentialMore(
  n: number,
  df: number,
  perRepVar: number,
  target: number,
  past: boolean,
  levelAt: (reps: number) => number,
  opts: DecideOptions,
): { more: number; note: string | null } {
  if (n >= opts.maxReps) return { more: 0, note: `at the cap of ${opts.maxReps} reps per side` };
  const halfWidth = (m: number) => {
    const dfAt = Math.max(1, (df * m) / n);
    const level = past ? levelAt(m) : 1 - EQUIVALENCE_ALPHA;
    return tQuantile(level, dfAt) * Math.sqrt(perRepVar / m + opts.betweenSd ** 2);
  };
  const floor =
    (past ? tQuantile(levelAt(opts.maxReps), 1e9) : tQuantile(1 - EQUIVALENCE_ALPHA, 1e9)) * opts.betweenSd;
  if (floor >= target) return { more: 0, note: INTERLEAVE_NOTE };
  const first = opts.sequential?.firstLook ?? 0;
  for (let m = Math.max(n + 1, first); m < opts.maxReps; m++) {
    if (halfWidth(m) <= target) return { more: m - n, note: null };
  }
  return { more: opts.maxReps - n, note: null };
}
