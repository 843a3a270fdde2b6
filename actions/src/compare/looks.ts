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
 * The metric a session is for: a PR author asks "did my change slow decode?". Only its verdict
 * keeps a session going; the others are compared on the same reps and reported as they come out.
 * A device without it (cycle counts on an FVP) is driven by every timed metric it has.
 */
export const LEAD_METRIC = "decode_tokens_per_sec";

/**
 * At most this many reps per side a look adds: two ABBA quads. The boundary holds for any schedule
 * of looks (stats/sequential.ts), so looking often costs no false alarms; it stops a session soon
 * after the answer is clear instead of running to a projection made from the first few reps (on
 * the harsh model this alone took a 5% drop's mean reps per side from 21 to 18).
 */
export const BLOCK_REPS = 4;

/**
 * Reps per side to add after a look; 0 = stop. Stops when no metric is inconclusive, or when
 * none of the inconclusive ones can be decided by more reps (more_samples 0: at the cap).
 * Otherwise the most any of them asks for, at most BLOCK_REPS, rounded up to an even count (whole
 * ABBA quads); the caller clips it to the cap.
 */
export function repsToAdd(metrics: readonly MetricComparison[]): number {
  const open = metrics.filter((m) => m.verdict === "inconclusive");
  const want = open.length === 0 ? 0 : Math.max(0, ...open.map((m) => m.more_samples));
  if (want === 0) return 0;
  const block = Math.min(BLOCK_REPS, want);
  return block + (block % 2);
}
