/**
 * Renders run records as the markdown summary (`summary.md`, also printed at the end of
 * `pte-farm run`): one table row per cell, then a note per failure with its known-issue triage.
 * Pure: records in, markdown out.
 */

import { describeNumerics } from "../actions/src/gate/numerics.ts";
import { describeDivergence } from "../actions/src/gate/policy.ts";
import { timingCounts } from "../actions/src/records/emulated.ts";
import { cleanSamples, flaggedCount, median } from "../actions/src/records/samples.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { CACHEABLE_STAGES } from "../actions/src/schemas/stage.ts";

export { median };

/** Median of the unflagged samples; "12.3 (2 flagged)" when throttled or hot reps were left out. */
function metric(record: RunRecord, name: string, digits: number): string {
  const m = median(cleanSamples(record.metrics[name]));
  const flagged = flaggedCount(record.metrics[name]);
  if (m === null) return "—";
  // QEMU's timing, shown for what it is: never the board's speed (records/emulated.ts).
  const emulated = timingCounts(record, name) ? "" : " (emulated)";
  return `${m.toFixed(digits)}${flagged === 0 ? "" : ` (${flagged} flagged)`}${emulated}`;
}

/** Decode tokens/s over the memory-bandwidth bound, e.g. "41%"; "—" when the bandwidth is unknown. */
function rooflineCell(r: RunRecord): string {
  const f = r.roofline?.fraction;
  if (f === undefined || f === null) return "—";
  const pct = 100 * f;
  return `${pct.toFixed(pct < 1 ? 2 : pct < 10 ? 1 : 0)}%`;
}

/** 1536 → "1.5 KiB"; binary units, since that is what `ls -lh` shows. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function gateCell(r: RunRecord): string {
  const g = r.gate;
  if (g === null) return "—";
  const agree = `fp32 ${g.fp32_agreement.matching_prefix}/${g.fp32_agreement.total}`;
  const o = g.outputs;
  if (g.verdict === "pass" && o !== undefined) {
    return `pass (top-1 = quantized, INT8 outputs ≤${o.max_abs_diff_q} q apart of ${o.bound_q} allowed, ${agree})`;
  }
  if (g.verdict === "pass")
    return `pass (${g.policy.reference === "fp32" ? "bit-exact fp32" : `bit-exact quantized, ${agree}`})`;
  const d = g.first_divergence;
  if (d === null && o !== undefined) {
    return `fail: INT8 outputs ${o.max_abs_diff_q} q apart at p${o.prompt_index}:o${o.position} (${o.bound_q} allowed)`;
  }
  const n = g.numerics;
  if (d === null && n?.verdict === "fail" && n.worst !== null)
    return `fail: logits drifted at p${n.worst.prompt_index}:t${n.worst.step}, tokens equal`;
  return d === null ? "fail" : `fail at p${d.prompt_index}:t${d.position} (${agree})`;
}

function cacheCell(r: RunRecord): string {
  const builds = r.stages.filter((s) => (CACHEABLE_STAGES as readonly string[]).includes(s.stage));
  if (builds.length > 0 && builds.every((s) => s.cache === "off")) return "off";
  return `${builds.filter((s) => s.cache === "hit").length}/${CACHEABLE_STAGES.length}`;
}

/** Escapes what would break a table cell. */
function esc(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The summary table alone. */
export function renderTable(records: readonly RunRecord[]): string {
  const rows = [
    "| cell | status | gate | decode tok/s (median) | prefill tok/s | first token ms | .pte size | roofline | cache hits |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of records) {
    const pte = median(r.metrics.pte_bytes?.samples ?? []);
    rows.push(
      `| ${esc(r.role === "base" ? `${r.cell.id} (base)` : r.cell.id)} | ${r.status} | ${esc(gateCell(r))} | ${metric(r, "decode_tokens_per_sec", 2)} | ` +
        `${metric(r, "prefill_tokens_per_sec", 1)} | ${metric(r, "first_token_ms", 1)} | ` +
        `${pte === null ? "—" : formatBytes(pte)} | ${rooflineCell(r)} | ${cacheCell(r)} |`,
    );
  }
  return rows.join("\n");
}

/** Notes for every cell that did not pass: the failing stage, its triage, and how to reproduce. */
export function renderFailureNotes(records: readonly RunRecord[]): string {
  const notes: string[] = [];
  for (const r of records) {
    if (r.status === "pass") continue;
    const lines = [`- **${r.cell.id}** — ${r.status}`];
    if (r.failure !== null) {
      lines.push(`  - ${r.failure.stage ? `stage \`${r.failure.stage}\`: ` : ""}${esc(r.failure.message)}`);
      lines.push(`  - ${esc(r.failure.triage)}`);
      lines.push(`  - reproduce: \`${r.failure.reproduce}\``);
      const log = r.stages.find((s) => s.outcome !== "ok")?.log;
      if (log) lines.push(`  - log: \`${log}\``);
    } else if (r.gate?.first_divergence) {
      lines.push(`  - gate: ${esc(describeDivergence(r.gate.first_divergence))}`);
    } else if (r.gate?.numerics?.verdict === "fail") {
      lines.push(`  - gate: ${esc(describeNumerics(r.gate.numerics))}`);
    }
    notes.push(lines.join("\n"));
  }
  return notes.length === 0 ? "" : `### Failures\n\n${notes.join("\n")}`;
}

/** Cells an `exclude` rule kept out: shown, never silently dropped. */
export function renderSkipped(
  skipped: readonly { cell: string; reason: string; known_issue: string | null }[],
): string {
  if (skipped.length === 0) return "";
  const lines = skipped.map(
    (s) =>
      `- ${s.cell} — skipped: ${s.reason}${s.known_issue === null ? "" : ` [known issue ${s.known_issue}]`}`,
  );
  return `### Skipped\n\n${lines.join("\n")}`;
}

/** The whole `summary.md`. */
export function renderSummary(
  records: readonly RunRecord[],
  meta: {
    session: string;
    gitSha: string | null;
    skipped?: readonly { cell: string; reason: string; known_issue: string | null }[];
  },
): string {
  const passed = records.filter((r) => r.status === "pass").length;
  const head = [
    "## pte-farm run",
    "",
    `session \`${meta.session}\` · git \`${meta.gitSha?.slice(0, 12) ?? "none"}\` · ${passed}/${records.length} cells passed`,
    "",
    renderTable(records),
  ];
  const extra = [renderFailureNotes(records), renderSkipped(meta.skipped ?? [])].filter((n) => n !== "");
  return `${[...head, ...extra.flatMap((n) => ["", n])].join("\n")}\n`;
}
