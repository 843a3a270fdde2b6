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
 * The CI is a t interval at `confidence` (99% by default: each compare looks up to a few times as
 * reps are added, and the farm runs many cells, so 95% would cry wolf).
 */

import type { Verdict } from "../schemas/comparison.ts";
import { tQuantile, tTwoSidedP } from "./distributions.ts";
import type { LogEffect } from "./paired.ts";

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
  const tq = tQuantile(1 - (1 - opts.confidence) / 2, df);
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
  if (worseLo > 0 && worse >= delta) verdict = "regression";
  else if (worseHi < 0 && -worse >= delta) verdict = "improvement";
  else if (eqLo > -delta && eqHi < delta) verdict = "unchanged";
  else verdict = "inconclusive";

  let more = 0;
  let note: string | null = null;
  if (verdict === "inconclusive") {
    const a = Math.abs(est);
    // Half-width that would decide: exclude 0 when the estimate is past δ, else fit within ±δ.
    const past = a >= delta;
    const target = 0.9 * (past ? a : Math.max(delta - a, delta / 4));
    const level = past ? 1 - (1 - opts.confidence) / 2 : 1 - EQUIVALENCE_ALPHA;
    const perRepVar = se * se * n;
    // The t quantile at the reps we will end with, not at today's few (t at 5 df is twice z):
    // project once with today's df, then again with the projected one.
    const roomAt = (dfAt: number) => (target / tQuantile(level, dfAt)) ** 2 - opts.betweenSd ** 2;
    let room = roomAt(df);
    if (room > 0) room = roomAt(Math.max(df, (df * perRepVar) / room / n));
    if (n >= opts.maxReps) {
      note = `at the cap of ${opts.maxReps} reps per side`;
    } else if (room <= 0) {
      note =
        "the between-session variation alone is wider than this effect: more reps will not decide it; " +
        "measure base and head interleaved in one session";
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
