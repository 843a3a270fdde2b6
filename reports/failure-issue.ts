/**
 * The nightly issue for a cell that stopped working rather than slowed down: its tokens fail the
 * gate, or a stage fails. Same marker and lifecycle as a performance regression
 * (regression-issue.ts: one issue per cell × metric, with the metric `gate` or `stage`), but the
 * body is about the failure: what broke, since when, the known issue it matches, how to rerun it.
 */
import { describeNumerics } from "../actions/src/gate/numerics.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import type { KnownIssue } from "../matrix/known-issues.ts";
import { reproduceCell } from "./cell-report.ts";
import { codeBlock, codeSpan, escapeInline, link, plainText, shortSha, tail } from "./escape.ts";
import { REGRESSION_LABELS, regressionMarker } from "./regression-issue.ts";

export interface FailureIssueInput {
  cell: string;
  /** `gate` or `stage` (nightly.ts's GATE_METRIC / STAGE_METRIC). */
  metric: string;
  /** The night's record that failed (tonight's, or the confirming re-run's). */
  record: RunRecord;
  /** Why the bookkeeping opened or kept the issue (nightly.ts's reason). */
  reason: string;
  /** The re-run that confirmed it, when there was one. */
  confirmation?: { started_at: string; git_sha: string | null; reason: string } | null;
  knownIssues?: readonly KnownIssue[];
  runUrl?: string | null;
}

const day = (iso: string) => iso.slice(0, 10).replace(/[^\d-]/g, "_");

function what(input: FailureIssueInput): string {
  const r = input.record;
  if (input.metric === "gate") {
    const d = r.gate?.first_divergence;
    const n = r.gate?.numerics;
    if (d == null && n?.verdict === "fail") return `logits drift past the tolerance (${describeNumerics(n)})`;
    return d == null
      ? "tokens fail the gate"
      : `tokens diverge from the ${d.reference} reference (prompt ${d.prompt_index}, token ${d.position})`;
  }
  return `stage ${r.failure?.stage ?? "?"} fails`;
}

/** Title, body (marker first) and labels of a gate or stage failure issue. */
export function renderFailureIssue(input: FailureIssueInput): {
  title: string;
  body: string;
  labels: string[];
} {
  const r = input.record;
  const title = plainText(`${input.cell}: ${what(input)} (nightly, since ${day(r.started_at)})`, 240);
  const facts = [
    `- night of ${escapeInline(day(r.started_at), 20)} at ${shortSha(r.git_sha)}: status ${codeSpan(r.status)}`,
    `- ${escapeInline(input.reason, 400)}`,
  ];
  if (input.confirmation) {
    facts.push(
      `- confirmed by a re-run on ${escapeInline(day(input.confirmation.started_at), 20)} at ` +
        `${shortSha(input.confirmation.git_sha)}: ${escapeInline(input.confirmation.reason, 300)}`,
    );
  }
  const blocks = [
    `${regressionMarker(input.cell, input.metric)}\n### ❌ ${escapeInline(what(input), 120)} on ${codeSpan(input.cell, { max: 160 })}`,
    facts.join("\n"),
  ];
  if (r.failure) {
    const known = (input.knownIssues ?? []).find((k) => k.id === r.failure?.known_issue);
    blocks.push(
      `**Triage:** ${escapeInline(r.failure.triage, 600)}` +
        (known
          ? `\n\n**Known issue** ${codeSpan(known.id)}: ${escapeInline(known.title, 300)} — workaround: ${escapeInline(known.workaround, 400)}`
          : ""),
      codeBlock(tail(r.failure.message, 30, 4000).text),
    );
  }
  blocks.push("Reproduce locally:", codeBlock(reproduceCell(input.cell), "sh"));
  blocks.push(
    `<sub>Opened by the nightly run${input.runUrl ? ` (${link("run", input.runUrl)})` : ""}; updated while the ` +
      "failure lasts and closed on the first night the cell passes.</sub>",
  );
  return { title, body: `${blocks.join("\n\n")}\n`, labels: [...REGRESSION_LABELS] };
}

/** The closing comment when a failing cell passes again. */
export function renderFailureRecoveryNote(input: {
  cell: string;
  metric: string;
  night: { started_at: string; git_sha: string | null };
  runUrl?: string | null;
}): string {
  return (
    `✅ **Recovered.** On the night of ${escapeInline(day(input.night.started_at), 20)} at ` +
    `${shortSha(input.night.git_sha)}, ${codeSpan(input.cell, { max: 160 })} passed its ${escapeInline(input.metric, 20)} again. ` +
    "Closing; a new failure opens a new issue." +
    (input.runUrl ? ` ${link("Nightly run", input.runUrl)}.` : "") +
    "\n"
  );
}
