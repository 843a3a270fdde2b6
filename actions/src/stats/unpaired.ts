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
