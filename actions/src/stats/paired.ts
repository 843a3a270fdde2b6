/**
 * The paired estimate, for base and head measured interleaved in one session (ABBA on one device):
 * rep i of the head is compared with rep i of the base, which ran next to it, so the session's
 * thermal drift and its offset from other sessions cancel in each pair.
 *
 * The effect is a trimmed mean of the per-pair log ratios log(head_i / base_i), with Yuen's
 * standard error (winsorized variance, h − 1 degrees of freedom). Trimming, not a plain mean:
 * 5–20% of reps on an uncooled Pi are slowed 15–50% by something else, and one such rep must not
 * decide a verdict. compare drops the pairs of reps it sees were slowed (stats/outliers.ts) and
 * then trims 10% (`TRIM_AFTER_SLOWED`) for the milder ones it cannot see; when it keeps every rep
 * (one side has more slowed reps: that is the change's behaviour), 20% (`TRIM`, Wilcox's default).
 * Logs, so a ratio and its inverse are symmetric and CIs become ratio CIs.
 */
import { trimCount, trimmedMean, winsorizedVariance } from "./robust.ts";

/** A location estimate on the log scale with its standard error: what decide() turns into a verdict. */
export interface LogEffect {
  /** log(head / base). */
  estimate: number;
  /** Standard error of `estimate` from the reps alone (scales as 1/√n). */
  se: number;
  /** Degrees of freedom for the t quantile. */
  df: number;
  /** Reps per side that went in (pairs, or the smaller side). */
  n: number;
}

export const TRIM = 0.2;
export const TRIM_AFTER_SLOWED = 0.1;

export function pairedLogEffect(base: readonly number[], head: readonly number[], trim = TRIM): LogEffect {
  if (base.length !== head.length) throw new Error("paired samples must have equal length");
  const d = base.map((b, i) => Math.log((head[i] as number) / b));
  const n = d.length;
  if (n < 2) throw new Error("need at least two pairs");
  const h = n - 2 * trimCount(n, trim);
  const se = Math.sqrt(winsorizedVariance(d, trim)) / ((1 - 2 * trim) * Math.sqrt(n));
  return { estimate: trimmedMean(d, trim), se, df: Math.max(1, h - 1), n };
}
