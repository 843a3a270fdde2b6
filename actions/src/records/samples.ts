/**
 * Which samples of a metric count. A rep flagged in `sample_flags` ("throttled", "hot") measured
 * the board's state, not the model, so medians and exports leave it out and say how many they left.
 */
import type { Metric } from "../schemas/stage.ts";

/** The median, or null when there are no samples. */
export function median(samples: readonly number[]): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

/** Samples whose rep carries no flag (all of them for a record without `sample_flags`). */
export function cleanSamples(m: Metric | undefined): number[] {
  if (m === undefined) return [];
  const flags = m.sample_flags;
  return flags === undefined ? [...m.samples] : m.samples.filter((_, i) => (flags[i] ?? []).length === 0);
}

/** How many samples a flag kept out. */
export function flaggedCount(m: Metric | undefined): number {
  return (m?.sample_flags ?? []).filter((f) => f.length > 0).length;
}
