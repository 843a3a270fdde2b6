/**
 * What the PR comment, the job summary and `pte-farm report` say about one cell: its outcome
 * (failed, infrastructure, regression, ...), and the table row's columns. Pure.
 *
 * The one rule that matters most here: an infrastructure error (a board gone, a timeout, a
 * cancelled job) is never a regression and never a failed gate. A comparison is only read when
 * both records passed; otherwise the cell's status speaks.
 */

import type { Comparison, MetricComparison } from "../actions/src/compare/verdicts.ts";
import { fmt } from "../actions/src/gate/numerics.ts";
import { shellQuote } from "../actions/src/pipeline/triage.ts";
import { isEmulated } from "../actions/src/records/emulated.ts";
import { cleanSamples, flaggedCount, median } from "../actions/src/records/samples.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import type { Skipped } from "../matrix/cells.ts";
import type { KnownIssue } from "../matrix/known-issues.ts";
import { cleanText, codeSpan, escapeInline } from "./escape.ts";

/** The metric the table and charts are about. */
export const HEADLINE_METRIC = "decode_tokens_per_sec";

/** One point of a recent trend: a nightly median (or the PR's head), with a short label (a date). */
export interface TrendPoint {
  label: string;
  value: number;
}

/** Everything known about one cell of a report. Records come from artefacts: all of it is untrusted. */
export interface CellReport {
  /** The record of the PR's head (or of the night). */
  head: RunRecord;
  /** The base's record of the same cell, when one was measured or taken from the history. */
  base?: RunRecord | null;
  /** compareRecords(base, head); ignored unless both records passed. */
  comparison?: Comparison | null;
  /** Recent nightly medians of {@link HEADLINE_METRIC} on main, oldest first. */
  trend?: readonly TrendPoint[];
  /** The end of the failed stage's log, when the caller could read it. */
  logTail?: string | null;
  /** The one-line command that reruns the cell locally (default: {@link reproduceCell} of its id). */
  reproduce?: string;
}

export type { Skipped as SkippedCell };

/** What a report wants to say about a cell, most urgent first (the order of the table). */
export const OUTCOMES = [
  "failed",
  "regression",
  "infra",
  "inconclusive",
  "improvement",
  "unchanged",
  "emulated",
  "no-base",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

const INFRA_STATUSES = new Set(["infra-error", "timeout", "cancelled"]);

export function isInfra(r: RunRecord): boolean {
  return INFRA_STATUSES.has(r.status);
}

/** The comparison, when it may be read: both sides passed (an infra error is never a regression). */
export function usableComparison(c: CellReport): Comparison | null {
  if (c.comparison == null || c.head.status !== "pass") return null;
  if (c.base != null && c.base.status !== "pass") return null;
  return c.comparison;
}

export function outcomeOf(c: CellReport): Outcome {
  if (isInfra(c.head)) return "infra";
  if (c.head.status !== "pass") return "failed";
  // Tokens and gate count; QEMU's timings never make a speed verdict (records/emulated.ts).
  if (isEmulated(c.head)) return "emulated";
  const cmp = usableComparison(c);
  if (cmp === null) return "no-base";
  return cmp.verdict;
}

/** Table order: most urgent outcome first, input order within an outcome. */
export function byUrgency(cells: readonly CellReport[]): CellReport[] {
  return cells
    .map((c, i) => ({ c, i, rank: OUTCOMES.indexOf(outcomeOf(c)) }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((x) => x.c);
}

export interface SummaryCounts {
  cells: number;
  gatesPassed: number;
  gatesFailed: number;
  /** Failed before the gate could run (a stage broke). */
  stageFailures: number;
  infraErrors: number;
  regressions: number;
  improvements: number;
  inconclusive: number;
  unchanged: number;
  skipped: number;
}

export function summaryCounts(cells: readonly CellReport[], skipped: readonly Skipped[] = []): SummaryCounts {
  const outcomes = cells.map(outcomeOf);
  const n = (o: Outcome) => outcomes.filter((x) => x === o).length;
  return {
    cells: cells.length,
    gatesPassed: cells.filter((c) => c.head.gate?.verdict === "pass").length,
    gatesFailed: cells.filter((c) => c.head.gate?.verdict === "fail").length,
    stageFailures: cells.filter((c) => c.head.status === "fail" && c.head.gate?.verdict !== "fail").length,
    infraErrors: n("infra"),
    regressions: n("regression"),
    improvements: n("improvement"),
    inconclusive: n("inconclusive"),
    unchanged: n("unchanged"),
    skipped: skipped.length,
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "**6 cells** · gates ✅ 4 passed, ❌ 1 failed · 🔴 1 regression · 🟡 1 inconclusive · ...". */
export function renderSummaryLine(s: SummaryCounts): string {
  const parts = [
    `**${plural(s.cells, "cell")}**`,
    `gates ✅ ${s.gatesPassed} passed, ❌ ${s.gatesFailed} failed`,
    `🔴 ${plural(s.regressions, "regression")}`,
    `🟡 ${s.inconclusive} inconclusive`,
    `🟢 ${plural(s.improvements, "improvement")}`,
  ];
  if (s.stageFailures > 0) parts.push(`💥 ${plural(s.stageFailures, "stage failure")}`);
  if (s.infraErrors > 0)
    parts.push(`⚠️ ${plural(s.infraErrors, "infrastructure error")} (not counted as regressions)`);
  if (s.skipped > 0) parts.push(`⏭️ ${s.skipped} skipped`);
  return parts.join(" · ");
}

/** Median of the unflagged samples of a metric, or null. */
export function metricMedian(r: RunRecord | null | undefined, metric: string): number | null {
  if (r == null) return null;
  return median(cleanSamples(r.metrics[metric]));
}

/** 2659.2 → "2,659"; 27.36 → "27.4"; 0.871 → "0.87": three significant figures or more, no exponent. */
export function formatValue(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "—";
  const abs = Math.abs(x);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A ratio as a signed percentage with a real minus sign: 0.939 → "−6.1%". */
export function formatChange(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return "—";
  const d = 100 * (ratio - 1);
  const text = Math.abs(d).toFixed(1);
  return `${d < 0 && text !== "0.0" ? "−" : "+"}${text}%`;
}

/** "−6.1% [−8.0, −4.2]": the change and its CI (in percent). */
export function formatChangeWithCi(m: MetricComparison | undefined): string {
  if (m === undefined || m.ratio === null) return "—";
  if (m.ci === null) return formatChange(m.ratio);
  const [lo, hi] = m.ci.map((r) => formatChange(r).replace("%", ""));
  return `${formatChange(m.ratio)} [${lo}, ${hi}]`;
}

/** The tokens column: ✅ 48/48 bit-exact, or ❌ diverged at token k. */
export function tokensCell(r: RunRecord): string {
  const g = r.gate;
  if (g === null) return "—";
  const { matching_prefix: match, total } = g.fp32_agreement;
  if (g.verdict === "pass") {
    return g.policy.reference === "fp32"
      ? `✅ ${total}/${total} bit-exact`
      : `✅ bit-exact vs quantized · fp32 ${match}/${total}`;
  }
  const d = g.first_divergence;
  const n = g.numerics;
  if (d === null && n?.verdict === "fail" && n.worst !== null)
    return `❌ logits drifted: ${n.worst.max_abs_dlogit === null ? "non-finite" : `Δ ${fmt(n.worst.max_abs_dlogit)}`} at step ${n.worst.step} (prompt ${n.worst.prompt_index}), tokens equal`;
  if (d === null) return "❌ failed";
  return `❌ diverged at token ${d.position} (prompt ${d.prompt_index}${d.reference === "quantized" ? ", vs quantized" : ""})`;
}

/** The decode column: "31.2 → 28.4", or the head alone when there is no base. */
export function decodeCell(c: CellReport): string {
  const head = metricMedian(c.head, HEADLINE_METRIC);
  const base = c.base == null ? null : metricMedian(c.base, HEADLINE_METRIC);
  const flagged = flaggedCount(c.head.metrics[HEADLINE_METRIC]);
  const note = flagged > 0 ? ` (${flagged} flagged)` : "";
  if (head === null) return "—";
  if (isEmulated(c.head)) return "— (emulated)";
  return base === null ? `${formatValue(head)}${note}` : `${formatValue(base)} → ${formatValue(head)}${note}`;
}

export function changeCell(c: CellReport): string {
  return formatChangeWithCi(usableComparison(c)?.metrics[HEADLINE_METRIC]);
}

const ICON = { regression: "🔴", improvement: "🟢", unchanged: "⚪", inconclusive: "🟡" } as const;

/** The verdict column; untrusted parts (stage, metric and issue names) escaped for a table cell. */
export function verdictCell(c: CellReport): string {
  const r = c.head;
  const outcome = outcomeOf(c);
  if (outcome === "infra") {
    const what = r.status === "infra-error" ? "infrastructure error" : r.status;
    return `⚠️ ${what}, not a regression`;
  }
  if (outcome === "failed") {
    const known = r.failure?.known_issue
      ? ` · known issue ${codeSpan(r.failure.known_issue, { table: true, max: 60 })}`
      : "";
    if (r.gate?.verdict === "fail") return `❌ gate failed${known}`;
    const stage = r.failure?.stage ? `${escapeInline(r.failure.stage, 30)} failed` : "failed";
    return `❌ ${stage}${known}`;
  }
  if (outcome === "no-base") return "no base";
  if (outcome === "emulated") return "✅ tokens only: an emulated device gives no speed verdict";
  const cmp = usableComparison(c) as Comparison;
  // Name the metrics behind the verdict unless it is the headline metric alone.
  const named = Object.entries(cmp.metrics)
    .filter(([, m]) => m.verdict === outcome)
    .map(([name]) => name);
  const driving =
    outcome === "unchanged" || (named.length === 1 && named[0] === HEADLINE_METRIC)
      ? []
      : named.map((name) => escapeInline(name, 40));
  if (cmp.identical !== undefined) return `${ICON.unchanged} unchanged — identical artefact`;
  const more = outcome === "inconclusive" ? maxMoreSamples(cmp) : 0;
  return (
    `${ICON[outcome]} ${outcome}` +
    (driving.length > 0 ? ` (${driving.slice(0, 3).join(", ")}${driving.length > 3 ? ", …" : ""})` : "") +
    (more > 0 ? ` · ${more} more reps` : "") +
    ` · ${cmp.paired ? "interleaved" : "vs nightly"}`
  );
}

/** How a comparison was made, in one sentence: identical artefacts, an interleaved session, or separate sessions. */
export function howDecided(cmp: Comparison): string {
  if (cmp.identical !== undefined)
    return "base and head .pte are byte-identical: speed unchanged by construction, nothing measured";
  const decode = cmp.metrics[HEADLINE_METRIC];
  const reps = decode === undefined ? "" : `${decode.reps.head} reps per side`;
  if (!cmp.paired) {
    return `separate sessions: the head against the cell's newest nightly record (its between-session spread is in every CI)${reps === "" ? "" : `; ${reps}`}`;
  }
  const a = cmp.adaptive;
  if (a === undefined)
    return `interleaved (ABBA) with the base in one session${reps === "" ? "" : `: ${reps}`}`;
  const why = {
    decided: "decided",
    cap: "at the reps cap",
    budget: "out of the device's session_minutes",
    "timings-do-not-count": "timings give no verdict here",
  }[a.stopped];
  return (
    `interleaved (ABBA) with the base build in one session: ${a.reps_per_side} reps per side in ` +
    `${a.blocks.length} block${a.blocks.length === 1 ? "" : "s"} (${a.blocks.join(" + ")}), ${Math.round(a.seconds)} s; stopped: ${why}`
  );
}

function maxMoreSamples(c: Comparison): number {
  return Math.max(0, ...Object.values(c.metrics).map((m) => m.more_samples));
}

/** Decode speed as a share of the device's memory-bandwidth bound. */
export function rooflineCell(r: RunRecord): string {
  const f = r.roofline?.fraction;
  if (f === undefined || f === null || !Number.isFinite(f)) return "—";
  const pct = 100 * f;
  return `${pct.toFixed(pct < 1 ? 2 : pct < 10 ? 1 : 0)}%`;
}

export const TABLE_HEADER = [
  "| cell | tokens | decode tok/s base → head | change [CI] | verdict | roofline |",
  "|---|---|--:|--:|---|--:|",
].join("\n");

/** One table row; every cell of it is one line, whatever the record holds. */
export function tableRow(c: CellReport): string {
  return `| ${codeSpan(c.head.cell.id, { table: true, max: 160 })} | ${tokensCell(c.head)} | ${decodeCell(c)} | ${changeCell(c)} | ${verdictCell(c)} | ${rooflineCell(c.head)} |`;
}

/** The command that reruns a cell: the caller's, else `pte-farm run` of its id, on one line. */
export function reproduceOf(c: CellReport): string {
  return c.reproduce === undefined
    ? reproduceCell(c.head.cell.id)
    : cleanText(c.reproduce, { keepNewlines: false });
}

/** The command that runs one cell locally, from a checkout of the PR's head. */
export function reproduceCell(cellId: string): string {
  return `node actions/src/cli/pte-farm.ts run --no-cache --cells ${shellQuote(cleanText(cellId, { keepNewlines: false }))}`;
}

/** Catalogue entries by id, for the notes; an id the catalogue lacks is still shown by id. */
export function knownIssueIndex(issues: readonly KnownIssue[] = []): Map<string, KnownIssue> {
  return new Map(issues.map((i) => [i.id, i]));
}
