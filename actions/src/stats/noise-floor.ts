/**
 * A cell's noise floor: the smallest change its measurements can detect, from its history. Shown
 * in reports so a reader knows that "unchanged" on a noisy cell means less than on a quiet one.
 *
 * - `within`: per-rep noise inside one session, the median over nights of each night's MAD of
 *   log samples;
 * - `between`: how much a night's level wanders, from the MAD of successive differences of the
 *   nightly log medians (÷√2; differences, so a real step in the series does not count as noise),
 *   less the part the night's own rep noise explains;
 * - `paired_pct`: the smallest change a paired compare at `reps` reps per side detects with 80%
 *   power at the given confidence; `unpaired_pct` the same for two separate sessions (nightly).
 */
import { normalQuantile } from "./distributions.ts";
import { mad, median } from "./robust.ts";

export interface NoiseFloor {
  nights: number;
  reps: number;
  within_pct: number;
  between_pct: number;
  paired_pct: number;
  unpaired_pct: number;
}

export function noiseFloor(
  nights: readonly (readonly number[])[],
  opts: { reps?: number; confidence?: number; power?: number } = {},
): NoiseFloor | null {
  const reps = opts.reps ?? 16;
  const zA = normalQuantile(1 - (1 - (opts.confidence ?? 0.99)) / 2);
  const zB = normalQuantile(opts.power ?? 0.8);
  const usable = nights.filter((s) => s.length > 0);
  const multi = usable.filter((s) => s.length >= 2);
  if (usable.length < 3) return null;
  const within = multi.length === 0 ? 0 : median(multi.map((s) => mad(s.map(Math.log))));
  const levels = usable.map((s) => Math.log(median(s)));
  const diffs = levels.slice(1).map((v, i) => v - (levels[i] as number));
  const nightly = mad(diffs) / Math.SQRT2;
  const perNightReps = median(usable.map((s) => s.length));
  // The median of r reps has variance ≈ (π/2)·σ²/r.
  const between = Math.sqrt(Math.max(0, nightly ** 2 - (Math.PI / 2) * (within ** 2 / perNightReps)));
  const pct = (x: number) => 100 * Math.expm1(x);
  return {
    nights: usable.length,
    reps,
    within_pct: pct(within),
    between_pct: pct(between),
    paired_pct: pct(((zA + zB) * within * Math.SQRT2) / Math.sqrt(reps)),
    unpaired_pct: pct((zA + zB) * Math.sqrt((2 * within ** 2) / reps + 2 * between ** 2)),
  };
}
