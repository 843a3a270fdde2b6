/**
 * The looks of an adaptive interleaved session: base and head are measured in ABBA blocks on one
 * device; after each block the paired comparison looks at every rep so far and either decides or
 * asks for more. The device job (pipeline/adaptive-session.ts) and the benchmark
 * (scripts/bench-compare.ts) both run exactly this loop, so what the benchmark reports is what
 * the job does.
 */
import type { MetricComparison } from "./verdicts.ts";

/** Reps per side of the first block: also where the sequential boundary starts (config.ts). */
export { START_REPS } from "./config.ts";

/**
 * Reps per side to add after a look; 0 = stop. Stops when no metric is inconclusive, or when
 * none of the inconclusive ones can be decided by more reps (more_samples 0: at the cap).
 */
export function repsToAdd(metrics: readonly MetricComparison[]): number {
  const open = metrics.filter((m) => m.verdict === "inconclusive");
  return open.length === 0 ? 0 : Math.max(0, ...open.map((m) => m.more_samples));
}
