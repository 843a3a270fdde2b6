/**
 * The unpaired estimate, for base and head from different sessions: Yuen–Welch on log samples
 * (difference of 20%-trimmed means, Welch–Satterthwaite degrees of freedom).
 *
 * Two sessions also differ by a session offset (the board's temperature that day, background
 * load, clock governor): 1–2% on a Pi, however many reps each session has. More reps do not shrink
 * it, so it is not in `se`: decide() adds it as `betweenSd`, a fixed term, which keeps a 1–2%
 * shift between two sessions from being called a regression and tells the user that more reps
 * cannot help beyond a point (interleave instead).
 */
import type { LogEffect } from "./paired.ts";
import { TRIM } from "./paired.ts";
import { trimCount, trimmedMean, winsorizedVariance } from "./robust.ts";

function yuenPart(logs: readonly number[]): { d: number; h: number } {
  const n = logs.length;
  const h = n - 2 * trimCount(n, TRIM);
  return { d: ((n - 1) * winsorizedVariance(logs, TRIM)) / (h * (h - 1)), h };
}

export function unpairedLogEffect(base: readonly number[], head: readonly number[]): LogEffect {
  if (base.length < 2 || head.length < 2) throw new Error("need at least two reps per side");
  const lb = base.map(Math.log);
  const lh = head.map(Math.log);
  const a = yuenPart(lb);
  const b = yuenPart(lh);
  const v = a.d + b.d;
  const df = v === 0 ? 1 : (v * v) / ((a.d * a.d) / (a.h - 1) + (b.d * b.d) / (b.h - 1));
  return {
    estimate: trimmedMean(lh, TRIM) - trimmedMean(lb, TRIM),
    se: Math.sqrt(v),
    df: Math.max(1, df),
    n: Math.min(base.length, head.length),
  };
}

/** Fewest usable reps of the same age a side before the cold-start estimate is used. */
export const COLD_START_MIN_REPS = 8;

/**
 * Two sessions that drift differently (one board heats faster that night) differ in their mean
 * level by the drift difference times half the session, several percent at 20 reps: more than
 * the between-session term allows, so comparing means called a no-change a regression 4–5% of
 * the time (scripts/bench-compare.ts, both noise models). What two sessions share is their start:
 * each begins cold. Rep t of the head is matched with rep t of the base (the same age into its
 * session); the log differences d_t are fitted by a line d_t = a + b·t, and the effect is a, the
 * difference at the cold start, with its ordinary least-squares standard error (n − 2 degrees of
 * freedom). The between-session term is still added by decide(). `ages` are the reps' positions in
 * their sessions (gaps where a rep was dropped), base[i] and head[i] of age ages[i].
 */
export function coldStartLogEffect(
  ages: readonly number[],
  base: readonly number[],
  head: readonly number[],
  repsPerSide: number,
): LogEffect {
  const n = ages.length;
  if (n < 4 || base.length !== n || head.length !== n)
    throw new Error("need four or more reps of the same age");
  const d = base.map((b, i) => Math.log((head[i] as number) / b));
  const tm = ages.reduce((a, t) => a + t, 0) / n;
  const dm = d.reduce((a, x) => a + x, 0) / n;
  const sxx = ages.reduce((a, t) => a + (t - tm) ** 2, 0);
  const slope = sxx === 0 ? 0 : ages.reduce((a, t, i) => a + (t - tm) * ((d[i] as number) - dm), 0) / sxx;
  const intercept = dm - slope * tm;
  const rss = d.reduce((a, x, i) => a + (x - intercept - slope * (ages[i] as number)) ** 2, 0);
  const s2 = rss / (n - 2);
  return {
    estimate: intercept,
    se: Math.sqrt(s2 * (1 / n + (sxx === 0 ? 0 : (tm * tm) / sxx))),
    df: n - 2,
    n: repsPerSide,
  };
}
