/**
 * A group-sequential boundary that holds its error rate however the looks are scheduled.
 *
 * An adaptive compare looks at its data after every block of reps (compare/looks.ts) and the block
 * sizes depend on the data (more_samples). A fixed 99% interval per look does not hold 1% over a
 * sequence of looks. Instead, the boundary here is computed as if the compare looked after *every*
 * rep from `firstLook` to `maxReps`: the chance that a standardized statistic with no real change
 * ever crosses it at any of those n is `alpha`. Any schedule of looks is a subset of those n, and
 * whether a look happens may depend on the data seen so far, so the same bound holds for every
 * schedule, the looks.ts loop included, and for a one-shot compare of two records.
 *
 * Shape: Wang & Tsiatis (1987), c_n = C·(n/N)^(Δ−½) with Δ = 0.4, near Pocock (flat,
 * Δ = ½: spends α evenly over the looks) rather than O'Brien–Fleming (Δ = 0: spends almost nothing early, which would push decisions to the cap). C is
 * solved so that a Gaussian random walk S_n (the per-rep statistic's sum, standardized: z_n =
 * S_n/√n) crosses c_n√n at some n in [firstLook, N] with probability α, by the recursive numerical
 * integration of Armitage, McPherson & Rowe (1969) on a grid. A t statistic with df degrees of
 * freedom is put on this z scale through its p-value ("significance level approach", Jennison &
 * Turnbull, Group Sequential Methods, 2000, §11): z = Φ⁻¹(F_t(t; df)).
 */

import { normalCdf } from "./distributions.ts";

/** Δ of the Wang–Tsiatis family. */
export const SHAPE_DELTA = 0.4;

const STEP = 0.1;
const KERNEL_SD = 8;

function shape(n: number, maxReps: number): number {
  return (n / maxReps) ** (SHAPE_DELTA - 0.5);
}

/** P(z_n > scale·shape(n) for some n in [firstLook, maxReps]) under no change. */
export function crossingProbability(scale: number, firstLook: number, maxReps: number): number {
  const lo = -KERNEL_SD * Math.sqrt(maxReps);
  const hi = scale * shape(firstLook, maxReps) * Math.sqrt(maxReps) + KERNEL_SD;
  const size = Math.ceil((hi - lo) / STEP) + 1;
  const x = (i: number) => lo + i * STEP;
  // Density of S_firstLook ~ N(0, firstLook) on the grid (as probability masses per cell).
  let mass = new Float64Array(size);
  const sd0 = Math.sqrt(firstLook);
  for (let i = 0; i < size; i++)
    mass[i] = (STEP * Math.exp(-0.5 * (x(i) / sd0) ** 2)) / (sd0 * Math.sqrt(2 * Math.PI));
  const half = Math.ceil(KERNEL_SD / STEP);
  const kernel = new Float64Array(2 * half + 1);
  for (let k = -half; k <= half; k++)
    kernel[k + half] = (STEP * Math.exp(-0.5 * (k * STEP) ** 2)) / Math.sqrt(2 * Math.PI);
  let crossed = 0;
  for (let n = firstLook; n <= maxReps; n++) {
    const bound = scale * shape(n, maxReps) * Math.sqrt(n);
    // Mass above the bound has crossed and leaves (cell i spans x_i ± STEP/2; the cell the bound
    // falls in leaves in proportion).
    const edge = (bound - lo) / STEP + 0.5;
    const cut = Math.max(0, Math.min(size, Math.floor(edge)));
    for (let i = cut; i < size; i++) {
      const leave = i === cut ? (mass[i] as number) * (1 - (edge - cut)) : (mass[i] as number);
      crossed += leave;
      mass[i] = (mass[i] as number) - leave;
    }
    if (n === maxReps) break;
    const next = new Float64Array(size);
    for (let i = 0; i <= Math.min(cut, size - 1); i++) {
      const m = mass[i] as number;
      if (m < 1e-300) continue;
      const from = Math.max(0, i - half);
      const to = Math.min(size - 1, i + half);
      for (let j = from; j <= to; j++) next[j] = (next[j] as number) + m * (kernel[j - i + half] as number);
    }
    mass = next;
  }
  return crossed;
}

const cache = new Map<string, number>();

/** The scale C of the boundary for one-sided error `alpha`, looks possible at every n in [firstLook, maxReps]. */
export function boundaryScale(alpha: number, firstLook: number, maxReps: number): number {
  const key = `${alpha}/${firstLook}/${maxReps}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let a = 0;
  let b = 10;
  for (let it = 0; it < 40; it++) {
    const mid = (a + b) / 2;
    if (crossingProbability(mid, firstLook, maxReps) > alpha) a = mid;
    else b = mid;
  }
  cache.set(key, b);
  return b;
}

/**
 * The z a look at n reps per side must exceed (one-sided error `alpha` over all looks). Infinite
 * before `firstLook` (no verdict yet); past the cap, the cap's value (a record with more reps
 * than the cap is one look).
 */
export function sequentialZ(n: number, alpha: number, firstLook: number, maxReps: number): number {
  if (n < firstLook) return Number.POSITIVE_INFINITY;
  const N = Math.max(maxReps, firstLook);
  return boundaryScale(alpha, firstLook, N) * shape(Math.min(n, N), N);
}

/** The one-sided level of a fixed-sample test at that z: what a t quantile is looked up at. */
export function sequentialLevel(n: number, alpha: number, firstLook: number, maxReps: number): number {
  const z = sequentialZ(n, alpha, firstLook, maxReps);
  return z === Number.POSITIVE_INFINITY ? 1 : normalCdf(z);
}
