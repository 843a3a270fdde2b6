/**
 * The nightly regression issue: one per regressed cell × metric, found again by a hidden marker,
 * re-rendered while the regression lasts, and closed with {@link renderRecoveryNote} when the
 * metric comes back. Pure: detect.ts finds and confirms the change point; this only writes.
 */

import type { ChangePoint, Detection, SeriesPoint } from "../actions/src/compare/detect.ts";
import type { MetricComparison } from "../actions/src/compare/verdicts.ts";
import type { KnownIssue } from "../matrix/known-issues.ts";
import { formatChange, formatChangeWithCi, formatValue, reproduceCell } from "./cell-report.ts";
import { cellPageUrl } from "./dashboard/links.ts";
import { codeBlock, codeSpan, escapeInline, link, plainText, shortSha } from "./escape.ts";
import { trendChart } from "./mermaid.ts";
import { COMMENT_BUDGET, githubSize } from "./size.ts";

/** Labels every regression issue carries (the nightly workflow lists open issues by them). */
export const REGRESSION_LABELS = ["pte-farm", "regression"] as const;

const MARKER_PREFIX = "<!-- pte-farm:regression ";
const MARKER_RE =
  /^<!-- pte-farm:regression cell=([A-Za-z0-9%._~*'()!-]+) metric=([A-Za-z0-9%._~*'()!-]+) -->/;

/**
 * The hidden first line of a regression issue: `<!-- pte-farm:regression cell=… metric=… -->`,
 * with both values percent-encoded, so no id can end the comment or forge a second marker. Only
 * the body's first line is read back ({@link parseRegressionMarker}): escaped text further down
 * (`&lt;!--`) can never pass for it.
 */
export function regressionMarker(cellId: string, metric: string): string {
  return `${MARKER_PREFIX}cell=${encodeURIComponent(cellId)} metric=${encodeURIComponent(metric)} -->`;
}

/** The cell and metric of a body that starts with a regression marker, else null. */
export function parseRegressionMarker(
  body: string | null | undefined,
): { cell: string; metric: string } | null {
  const m = MARKER_RE.exec(body ?? "");
  if (m === null) return null;
  try {
    return { cell: decodeURIComponent(m[1] as string), metric: decodeURIComponent(m[2] as string) };
  } catch {
    return null;
  }
}

/** Whether a change point is a regression for a metric where `better` is the good direction. */
export function isRegression(cp: Pick<ChangePoint, "ratio">, better: "higher" | "lower"): boolean {
  return better === "higher" ? cp.ratio < 1 : cp.ratio > 1;
}

export interface RegressionIssueInput {
  detection: Pick<Detection, "cell" | "metric" | "nights" | "noise_floor">;
  changePoint: ChangePoint;
  /** The nightly series detect ran on, oldest first. */
  series: readonly SeriesPoint[];
  unit: string;
  better: "higher" | "lower";
  /** confirm()'s answer for the re-run, when there was one. */
  confirmation?: { value: number | null; reason: string } | null;
  /** A compare of the re-run against the night before the change, for a CI on the change. */
  comparison?: MetricComparison | null;
  /** Catalogue entries that may explain it (the caller matches the cell and toolchain). */
  knownIssues?: readonly KnownIssue[];
  runUrl?: string | null;
  /** The farm dashboard's base URL: the issue links to the cell's page (its whole history). */
  dashboardUrl?: string | null;
}

function day(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : iso.slice(0, 10).replace(/[^\w.:-]/g, "_");
}

/** Title, body (marker first, within GitHub's body limit) and labels of the issue. */
export function renderRegressionIssue(input: RegressionIssueInput): {
  title: string;
  body: string;
  labels: string[];
} {
  const { detection: d, changePoint: cp } = input;
  const change = formatChange(cp.ratio);
  const title = plainText(`${d.metric} ${change} on ${d.cell} since ${day(cp.started_at)}`, 240);
  const latest = input.series.at(-1);
  const facts = [
    `- change point: night of ${escapeInline(day(cp.started_at), 20)} at ${shortSha(cp.git_sha)} ` +
      `(night ${cp.index + 1} of ${d.nights})`,
    `- median ${formatValue(cp.before_median)} → ${formatValue(cp.after_median)} ${escapeInline(input.unit, 12)}: ` +
      `${input.comparison ? formatChangeWithCi(input.comparison) : change}, p ${cp.p_value < 0.001 ? "< 0.001" : cp.p_value.toPrecision(2)}`,
  ];
  if (input.confirmation) {
    facts.push(
      `- confirmation re-run: ${formatValue(input.confirmation.value)} — ${escapeInline(input.confirmation.reason, 300)}`,
    );
  }
  if (latest !== undefined) {
    facts.push(
      `- latest night: ${escapeInline(day(latest.started_at), 20)} at ${shortSha(latest.git_sha)}, median ${formatValue(latest.value)}`,
    );
  }
  const page = cellPageUrl(input.dashboardUrl, d.cell);
  if (page !== null) facts.push(`- history: ${link("this cell on the farm dashboard", page)}`);
  if (d.noise_floor !== null) {
    facts.push(
      `- noise floor on this device: ${d.noise_floor.paired_pct.toFixed(1)}% paired, ${d.noise_floor.unpaired_pct.toFixed(1)}% night to night`,
    );
  }
  const labels = input.series.map((p) => day(p.started_at).slice(5));
  const level = input.series.map((_, i) => (i < cp.index ? cp.before_median : cp.after_median));
  const blocks = [
    `${regressionMarker(d.cell, d.metric)}\n### 🔴 ${escapeInline(d.metric, 60)} ${change} on ${codeSpan(d.cell, { max: 160 })}`,
    facts.join("\n"),
    trendChart({
      title: `${d.metric}: nightly median and level`,
      yLabel: input.unit,
      labels,
      series: [{ values: input.series.map((p) => p.value) }, { values: level }],
      maxPoints: 60,
    }),
  ];
  const issues = (input.knownIssues ?? []).slice(0, 10);
  if (issues.length > 0) {
    blocks.push(
      "#### Known issues that may explain it",
      issues
        .map(
          (i) =>
            `- ${codeSpan(i.id, { max: 60 })}: ${escapeInline(i.title, 300)} — workaround: ${escapeInline(i.workaround, 400)}`,
        )
        .join("\n"),
    );
  }
  blocks.push("Reproduce locally (at the commit after the change):", codeBlock(reproduceCell(d.cell), "sh"));
  blocks.push(
    `<sub>Opened by the nightly run${input.runUrl ? ` (${link("run", input.runUrl)})` : ""}; updated while the ` +
      "regression lasts and closed when it recovers.</sub>",
  );
  const body = `${blocks.join("\n\n")}\n`;
  if (githubSize(body) > COMMENT_BUDGET)
    throw new Error(`bug: regression issue body is ${githubSize(body)} units`);
  return { title, body, labels: [...REGRESSION_LABELS] };
}

export interface RecoveryInput {
  cell: string;
  metric: string;
  unit: string;
  /** The night the metric came back. */
  night: Pick<SeriesPoint, "started_at" | "git_sha" | "value">;
  changePoint: Pick<ChangePoint, "before_median" | "after_median">;
  runUrl?: string | null;
}

/** The comment posted when the issue is closed because the metric recovered. */
export function renderRecoveryNote(input: RecoveryInput): string {
  const { night, changePoint: cp } = input;
  const unit = escapeInline(input.unit, 12);
  return (
    `✅ **Recovered.** On the night of ${escapeInline(day(night.started_at), 20)} at ${shortSha(night.git_sha)}, ` +
    `${escapeInline(input.metric, 60)} on ${codeSpan(input.cell, { max: 160 })} was ${formatValue(night.value)} ${unit} ` +
    `(${formatValue(cp.before_median)} before the regression, ${formatValue(cp.after_median)} during it). ` +
    `Closing; a new regression opens a new issue.` +
    (input.runUrl ? ` ${link("Nightly run", input.runUrl)}.` : "") +
    "\n"
  );
}
