/**
 * Change points in a cell's nightly series, from run records (pure; the command reads the files).
 *
 * A change point found here is a *candidate*. It becomes reportable (an issue, later) only after
 * {@link confirm} agrees on a confirmation re-run of the commit after the change: one night can be
 * a bad board, a bad power supply or a noisy neighbour, and a re-run costs minutes while a false
 * issue costs a maintainer's morning.
 */

import { timingCounts } from "../records/emulated.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { type ChangePointOptions, detectChangePoints } from "../stats/changepoint.ts";
import { type NoiseFloor, noiseFloor } from "../stats/noise-floor.ts";
import { median } from "../stats/robust.ts";
import { isExcluded } from "./verdicts.ts";

export const DETECT_SCHEMA = "pte-farm/detect@1";

/** One night: the median of its clean reps. */
export interface SeriesPoint {
  value: number;
  samples: number[];
  started_at: string;
  git_sha: string | null;
  session: string;
}

export interface ChangePoint {
  /** Index into the series (0 = the oldest night used). */
  index: number;
  started_at: string;
  git_sha: string | null;
  before_median: number;
  after_median: number;
  ratio: number;
  p_value: number;
  /** Always false here: see {@link confirm}. */
  confirmed: false;
}

export interface Detection {
  schema: typeof DETECT_SCHEMA;
  cell: string;
  metric: string;
  nights: number;
  change_points: ChangePoint[];
  noise_floor: NoiseFloor | null;
}

/** Clean reps of one metric of a record (flagged reps dropped). */
export function cleanSamples(r: RunRecord, metric: string): number[] {
  const m = r.metrics[metric];
  if (m === undefined || !timingCounts(r, metric)) return [];
  return m.samples.filter((_, i) => !isExcluded(m.sample_flags?.[i]));
}

/** The passing records of `cell` that have `metric`, oldest first. */
export function cellSeries(records: readonly RunRecord[], cell: string, metric: string): SeriesPoint[] {
  return records
    .filter((r) => r.cell.id === cell && r.status === "pass")
    .map((r) => ({ r, samples: cleanSamples(r, metric) }))
    .filter((x) => x.samples.length > 0)
    .sort((a, b) => (a.r.started_at < b.r.started_at ? -1 : a.r.started_at > b.r.started_at ? 1 : 0))
    .map(({ r, samples }) => ({
      value: median(samples),
      samples,
      started_at: r.started_at,
      git_sha: r.git_sha,
      session: r.session,
    }));
}

export function detectSeries(
  series: readonly SeriesPoint[],
  cell: string,
  metric: string,
  options: Partial<ChangePointOptions> = {},
): Detection {
  const raw = detectChangePoints(
    series.map((p) => p.value),
    options,
  );
  return {
    schema: DETECT_SCHEMA,
    cell,
    metric,
    nights: series.length,
    change_points: raw.map((c) => {
      const at = series[c.index] as SeriesPoint;
      return { ...c, started_at: at.started_at, git_sha: at.git_sha, confirmed: false as const };
    }),
    noise_floor: noiseFloor(series.map((p) => p.samples)),
  };
}

/**
 * Whether a confirmation re-run agrees with a change point: its median (clean reps) lies on the
 * new level's side of the midpoint between the two levels (on the log scale). A re-run back at the
 * old level means the night was a fluke, and nothing is reported.
 */
export function confirm(
  cp: Pick<ChangePoint, "before_median" | "after_median">,
  rerun: RunRecord,
  metric: string,
): { confirmed: boolean; value: number | null; reason: string } {
  const samples = cleanSamples(rerun, metric);
  if (samples.length === 0) {
    return { confirmed: false, value: null, reason: `the re-run has no clean ${metric} reps` };
  }
  const value = median(samples);
  const step = Math.log(cp.after_median / cp.before_median);
  const moved = Math.log(value / cp.before_median);
  const confirmed = step !== 0 && moved / step > 0.5;
  return {
    confirmed,
    value,
    reason: confirmed
      ? `the re-run (${value.toPrecision(4)}) is at the new level (${cp.after_median.toPrecision(4)})`
      : `the re-run (${value.toPrecision(4)}) is back near the old level (${cp.before_median.toPrecision(4)})`,
  };
}
