/**
 * Markdown for `pte-farm compare --format markdown` and the history report (change points and
 * noise floor per cell). Pure rendering of what compare/verdicts.ts and compare/detect.ts decided.
 */

import type { Detection } from "../actions/src/compare/detect.ts";
import type { Comparison } from "../actions/src/compare/verdicts.ts";

const ICON = { regression: "🔴", improvement: "🟢", unchanged: "⚪", inconclusive: "🟡" } as const;

function pct(ratio: number | null): string {
  if (ratio === null) return "–";
  const d = 100 * (ratio - 1);
  return `${d >= 0 ? "+" : ""}${d.toFixed(1)}%`;
}

export function renderComparison(c: Comparison): string {
  const lines = [
    `### ${ICON[c.verdict]} ${c.verdict}: \`${c.cell}\``,
    "",
    `base ${c.base.git_sha?.slice(0, 7) ?? c.base.session} vs head ${c.head.git_sha?.slice(0, 7) ?? c.head.session}, ` +
      (c.paired ? "paired (one interleaved session)" : "unpaired (separate sessions)"),
    "",
    "| metric | verdict | change | CI | p | reps (base/head) | excluded | more reps |",
    "|---|---|---:|---|---:|---|---|---:|",
  ];
  for (const [name, m] of Object.entries(c.metrics)) {
    const ci = m.ci === null ? "–" : `[${pct(m.ci[0])}, ${pct(m.ci[1])}]`;
    const p = m.p_value === null ? "–" : m.p_value < 0.001 ? "<0.001" : m.p_value.toFixed(3);
    lines.push(
      `| ${name} | ${ICON[m.verdict]} ${m.verdict} | ${pct(m.ratio)} | ${ci} | ${p} | ${m.reps.base}/${m.reps.head} | ` +
        `${m.excluded.base}/${m.excluded.head} | ${m.more_samples || ""} |`,
    );
  }
  const notes = [
    ...c.notes,
    ...Object.entries(c.metrics).flatMap(([n, m]) => (m.note ? [`${n}: ${m.note}`] : [])),
  ];
  if (notes.length > 0) lines.push("", ...notes.map((n) => `- ${n}`));
  return lines.join("\n");
}

/** One row per cell: its change points (candidates until confirmed) and noise floor. */
export function renderHistoryReport(detections: readonly Detection[]): string {
  const lines = [
    "| cell | metric | nights | change points (night: change, p) | noise floor paired / nightly |",
    "|---|---|---:|---|---|",
  ];
  for (const d of detections) {
    const cps =
      d.change_points.length === 0
        ? "none"
        : d.change_points.map((c) => `${c.index}: ${pct(c.ratio)}, p ${c.p_value.toPrecision(2)}`).join("; ");
    const nf =
      d.noise_floor === null
        ? "–"
        : `${d.noise_floor.paired_pct.toFixed(1)}% / ${d.noise_floor.unpaired_pct.toFixed(1)}%`;
    lines.push(`| ${d.cell} | ${d.metric} | ${d.nights} | ${cps} | ${nf} |`);
  }
  return lines.join("\n");
}
