/**
 * The collapsed per-cell details of a report: the failure and its first divergence, the metrics
 * compared, the toolchain and device, the end of the log in a fence it cannot close, and one line
 * that reproduces the cell. Each block is bounded (a few KB whatever the record holds), so a
 * report can drop whole blocks to fit GitHub's limit and never has to cut inside one.
 */
import { describeNumerics } from "../actions/src/gate/numerics.ts";
import { describeDivergence } from "../actions/src/gate/policy.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import type { ToolchainVersions } from "../actions/src/schemas/stage.ts";
import {
  type CellReport,
  formatChangeWithCi,
  formatValue,
  howDecided,
  type knownIssueIndex,
  metricMedian,
  type Outcome,
  outcomeOf,
  reproduceOf,
  type SkippedCell,
  usableComparison,
} from "./cell-report.ts";
import { cellPageUrl } from "./dashboard/links.ts";
import { codeBlock, codeSpan, escapeHtml, escapeInline, link, tail } from "./escape.ts";
import { numericsMoved } from "./numerics.ts";

/** Lines and code units of a log tail shown in a comment. */
export const LOG_TAIL_LINES = 40;
export const LOG_TAIL_CHARS = 4000;

const OUTCOME_LABEL: Record<Outcome, string> = {
  failed: "❌ failed",
  regression: "🔴 regression",
  infra: "⚠️ infrastructure error",
  inconclusive: "🟡 inconclusive",
  improvement: "🟢 improvement",
  unchanged: "⚪ unchanged",
  emulated: "✅ tokens only (emulated: no speed verdict)",
  "no-base": "no base",
};

function versions(v: ToolchainVersions | null): string {
  if (v === null) return "unknown";
  const shown = Object.entries(v)
    .filter(([, ver]) => ver !== null)
    .slice(0, 12)
    .map(([pkg, ver]) => `${escapeInline(pkg, 40)} ${escapeInline(ver as string, 40)}`);
  return shown.length > 0 ? shown.join(", ") : "unknown";
}

function toolchainLine(r: RunRecord): string {
  const { name, build, device } = r.toolchain;
  const same = JSON.stringify(build) === JSON.stringify(device);
  const where = same
    ? `build and device: ${versions(build)}`
    : `build: ${versions(build)}; device: ${versions(device)}`;
  return `- toolchain ${codeSpan(name, { max: 40 })}: ${where}`;
}

function deviceLine(r: RunRecord): string {
  const d = r.device;
  return (
    `- device ${escapeInline(d.board, 60)} (runner ${escapeInline(d.runner, 60)}, ${escapeInline(d.os, 80)}, ` +
    `${escapeInline(d.kernel, 80)}, ${escapeInline(d.cpu, 80)})`
  );
}

/** How a paired metric treated reps slowed by something else (stats/outliers.ts). */
function slowedNote(s: { base: number; head: number; dropped: boolean } | undefined): string {
  if (s === undefined) return "";
  return s.dropped
    ? `, slowed reps dropped with their pairs (base ${s.base}, head ${s.head})`
    : `, slowed reps kept (base ${s.base}, head ${s.head}: one side has more)`;
}

/** A table of every metric the comparison decided on. */
function metricsTable(c: CellReport): string | null {
  const cmp = usableComparison(c);
  if (cmp === null) return null;
  const rows = Object.entries(cmp.metrics)
    .slice(0, 20)
    .map(
      ([name, m]) =>
        `| ${escapeInline(name, 40)} | ${formatValue(metricMedian(c.base, name))} | ${formatValue(metricMedian(c.head, name))} | ` +
        `${escapeInline(m.unit, 12)} | ${formatChangeWithCi(m)} | ${m.verdict} | ${m.method}, ${m.reps.base}/${m.reps.head} reps${slowedNote(m.slowed)} |`,
    );
  return [
    "| metric | base | head | unit | change [CI] | verdict | how |",
    "|---|--:|--:|---|--:|---|---|",
    ...rows,
  ].join("\n");
}

/**
 * Where a hub-model cell that did not pass points: its shipped twin's cell (`twin_cell`, matrix
 * `twin_of`), with that cell's outcome and decode speed when it is in the same report, else the
 * command that runs it.
 */
export function twinLine(
  r: RunRecord,
  twinReport: CellReport | undefined,
  dashboardUrl: string | null = null,
): string | null {
  if (r.twin_cell === undefined || r.status === "pass") return null;
  const id = codeSpan(r.twin_cell, { max: 160 });
  const page = cellPageUrl(dashboardUrl, r.twin_cell);
  const history = page === null ? "" : ` (${link("its history", page)})`;
  if (twinReport === undefined)
    return `- twin: ${id}, the same architecture shipped, is not in this run: ${codeSpan(`pte-farm run --cells '${r.twin_cell}'`, { max: 200 })}${history}`;
  const decode = metricMedian(twinReport.head, "decode_tokens_per_sec");
  const speed = decode === null || !Number.isFinite(decode) ? "" : `, decode ${formatValue(decode)} tok/s`;
  return `- twin: ${id}, the same architecture shipped: ${OUTCOME_LABEL[outcomeOf(twinReport)]}, status ${escapeInline(twinReport.head.status, 20)}${speed}${history}`;
}

/** One cell's `<details>` block. `logTail` (untrusted) goes into a fence longer than any backtick run in it. */
export function cellDetails(
  c: CellReport,
  known: ReturnType<typeof knownIssueIndex>,
  dashboardUrl: string | null = null,
  byCell: ReadonlyMap<string, CellReport> = new Map(),
): string {
  const r = c.head;
  const outcome = outcomeOf(c);
  const facts: string[] = [
    `- status ${escapeInline(r.status, 20)}, session ${codeSpan(r.session, { max: 60 })}`,
  ];
  if (r.failure !== null) {
    const stage = r.failure.stage ? ` in stage ${codeSpan(r.failure.stage, { max: 30 })}` : "";
    facts.push(`- failure${stage}: ${escapeInline(r.failure.message, 500)}`);
    facts.push(`- triage: ${escapeInline(r.failure.triage, 600)}`);
    const issue = r.failure.known_issue === null ? undefined : known.get(r.failure.known_issue);
    if (issue !== undefined) facts.push(`- workaround: ${escapeInline(issue.workaround, 400)}`);
  }
  const twin = twinLine(r, r.twin_cell === undefined ? undefined : byCell.get(r.twin_cell), dashboardUrl);
  if (twin !== null) facts.push(twin);
  if (r.gate !== null) {
    const d = r.gate.first_divergence;
    if (d !== null) facts.push(`- first divergence: ${escapeInline(describeDivergence(d), 400)}`);
    const a = r.gate.fp32_agreement;
    facts.push(
      `- fp32 agreement: ${a.matching_prefix}/${a.total} tokens (gated against the ${r.gate.policy.reference} reference)`,
    );
    // The logits drift only where it moved against the base (or failed): see reports/numerics.ts.
    if (r.gate.numerics !== undefined && numericsMoved(c))
      facts.push(`- ${escapeInline(describeNumerics(r.gate.numerics), 400)}`);
  }
  const cmp = usableComparison(c);
  if (cmp !== null) facts.push(`- how: ${escapeInline(howDecided(cmp), 400)}`);
  facts.push(toolchainLine(r), deviceLine(r));
  const page = cellPageUrl(dashboardUrl, r.cell.id);
  if (page !== null) facts.push(`- history: ${link("this cell on the farm dashboard", page)}`);
  const notes = (cmp?.notes ?? []).slice(0, 5).map((n) => `- ${escapeInline(n, 300)}`);

  const blocks = [
    `<details><summary><code>${escapeHtml(r.cell.id, 160, { code: true })}</code> — ${OUTCOME_LABEL[outcome]}</summary>`,
    [...facts, ...notes].join("\n"),
  ];
  const table = metricsTable(c);
  if (table !== null) blocks.push(table);
  if (c.logTail != null && c.logTail.trim() !== "") {
    const t = tail(c.logTail, LOG_TAIL_LINES, LOG_TAIL_CHARS);
    const what =
      t.omitted > 0
        ? `Last ${LOG_TAIL_LINES} lines of the log (${t.omitted} earlier lines omitted):`
        : "Log:";
    blocks.push(what, codeBlock(t.text, "text"));
  }
  blocks.push("Reproduce locally:", codeBlock(reproduceOf(c), "sh"), "</details>");
  return blocks.join("\n\n");
}

/** Skipped cells, collapsed: nightly plans skip dozens and they are rarely what a reader wants first. */
export function skippedDetails(skipped: readonly SkippedCell[], max = 50): string | null {
  if (skipped.length === 0) return null;
  const items = skipped.slice(0, max).map((s) => {
    const issue = s.known_issue === null ? "" : ` · known issue ${codeSpan(s.known_issue, { max: 60 })}`;
    return `- ${codeSpan(s.cell, { max: 160 })} — ${escapeInline(s.reason, 300)}${issue}`;
  });
  if (skipped.length > max) items.push(`- … and ${skipped.length - max} more`);
  return [
    `<details><summary>⏭️ ${skipped.length} skipped ${skipped.length === 1 ? "cell" : "cells"}</summary>`,
    items.join("\n"),
    "</details>",
  ].join("\n\n");
}
