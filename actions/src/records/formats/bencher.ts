/**
 * Bencher Metric Format (BMF): `{benchmark: {measure slug: {value, lower_value, upper_value}}}`.
 * Benchmark = the cell (and role); measure = the metric as a kebab-case slug (Bencher creates a
 * measure the first time it sees a slug). Bounds are the min and max of the clean samples.
 */
import type { RunRecord } from "../../schemas/run-record.ts";
import { benchmarkName, summaries } from "./common.ts";

export type Bmf = Record<string, Record<string, { value: number; lower_value: number; upper_value: number }>>;

/** `decode_tokens_per_sec` → `decode-tokens-per-sec`. */
export function measureSlug(metric: string): string {
  return metric.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

export function toBencherBmf(records: readonly RunRecord[]): Bmf {
  const out: Bmf = {};
  for (const s of summaries(records)) {
    const name = benchmarkName(s.record);
    const bench = out[name] ?? {};
    out[name] = bench;
    bench[measureSlug(s.name)] = { value: s.median, lower_value: s.min, upper_value: s.max };
  }
  return out;
}
