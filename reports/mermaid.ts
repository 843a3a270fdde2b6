/**
 * A trend as a mermaid `xychart-beta` line chart, which GitHub renders in comments and issues.
 * Labels come from records (dates, shas): they pass through {@link mermaidString}'s whitelist,
 * and values are plain decimals (mermaid reads no exponents), so nothing in the data can end the
 * chart, add a directive or close the fence.
 */
import { mermaidString } from "./escape.ts";

export interface ChartSeries {
  /** Values in label order; null where the series has no value (drawn as the previous value). */
  values: readonly (number | null)[];
}

/** Mermaid takes plain decimals: four significant figures, never an exponent. */
function num(x: number): string {
  if (!Number.isFinite(x)) return "0";
  const digits = Math.max(0, Math.min(6, 3 - Math.floor(Math.log10(Math.abs(x) || 1))));
  return x.toFixed(digits);
}

/**
 * A line chart of one or more series over the same labels (the last `maxPoints`). The y-axis is
 * widened a little around the data so a 5% step is visible rather than filling the whole height.
 */
export function trendChart(opts: {
  title: string;
  yLabel: string;
  labels: readonly string[];
  series: readonly ChartSeries[];
  maxPoints?: number;
}): string {
  const n = Math.min(opts.labels.length, opts.maxPoints ?? 30);
  const from = opts.labels.length - n;
  const labels = opts.labels.slice(from).map((l) => mermaidString(l, 16));
  const lines = opts.series.map((s) => {
    let last: number | null = null;
    return s.values.slice(from, from + n).map((v) => {
      if (v !== null && Number.isFinite(v)) last = v;
      return last;
    });
  });
  const all = lines.flat().filter((v): v is number => v !== null);
  const lo = all.length > 0 ? Math.min(...all) : 0;
  const hi = all.length > 0 ? Math.max(...all) : 1;
  const pad = (hi - lo) * 0.25 || Math.abs(hi) * 0.05 || 1;
  const yMin = Math.max(0, lo - pad);
  const first = all[0] ?? 0;
  return [
    "```mermaid",
    "xychart-beta",
    `  title ${mermaidString(opts.title, 60)}`,
    `  x-axis [${labels.join(", ")}]`,
    `  y-axis ${mermaidString(opts.yLabel, 30)} ${num(yMin)} --> ${num(hi + pad)}`,
    ...lines.map((l) => `  line [${l.map((v) => num(v ?? first)).join(", ")}]`),
    "```",
  ].join("\n");
}
