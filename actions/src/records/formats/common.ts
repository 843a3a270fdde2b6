/**
 * What every export format shares: one summary per (record, metric) over the *unflagged* samples.
 * A throttled or hot rep never reaches another tool's database; the count left out travels along.
 */

import type { RunRecord } from "../../schemas/run-record.ts";
import type { Metric } from "../../schemas/stage.ts";
import { cleanSamples, flaggedCount, median } from "../samples.ts";

export interface MetricSummary {
  record: RunRecord;
  name: string;
  metric: Metric;
  samples: number[];
  median: number;
  min: number;
  max: number;
  flagged: number;
}

/** Summaries of every metric with at least one clean sample, in record then metric order. */
export function summaries(records: readonly RunRecord[]): MetricSummary[] {
  const out: MetricSummary[] = [];
  for (const record of records) {
    for (const [name, metric] of Object.entries(record.metrics)) {
      const samples = cleanSamples(metric);
      const m = median(samples);
      if (m === null) continue;
      out.push({
        record,
        name,
        metric,
        samples,
        median: m,
        min: Math.min(...samples),
        max: Math.max(...samples),
        flagged: flaggedCount(metric),
      });
    }
  }
  return out;
}

/** `tiny-llama/fp32/xnnpack/pi5@stable`, with the role when it is not the usual head. */
export function benchmarkName(r: RunRecord): string {
  return r.role === "head" ? r.cell.id : `${r.cell.id} (${r.role})`;
}
