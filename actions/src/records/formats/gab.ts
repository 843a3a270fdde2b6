/**
 * github-action-benchmark's `customBiggerIsBetter` input: `[{name, unit, value, range?, extra?}]`.
 * The tool applies one direction to every entry, so only metrics where higher is better
 * (tokens/s) are exported; lower-is-better ones (ms, MB) would read upside down.
 */
import type { RunRecord } from "../../schemas/run-record.ts";
import { benchmarkName, summaries } from "./common.ts";

export interface GabEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

export function toGabBigger(records: readonly RunRecord[]): GabEntry[] {
  return summaries(records)
    .filter((s) => s.metric.better === "higher")
    .map((s) => ({
      name: `${benchmarkName(s.record)} - ${s.name}`,
      unit: s.metric.unit,
      value: s.median,
      range: `± ${round((s.max - s.min) / 2)}`,
      extra:
        `median of ${s.samples.length} reps` +
        (s.flagged === 0 ? "" : `, ${s.flagged} throttled/hot reps left out`) +
        `\nsession ${s.record.session}\ngit ${s.record.git_sha ?? "none"}`,
    }));
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
