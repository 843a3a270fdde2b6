/**
 * farm-report's pull-request half: a PR run's results artefact in, one sticky comment on the PR
 * and one check run on its head commit out.
 *
 * Everything in the artefact is hostile (a fork wrote it): ingest.ts bounds and validates it and
 * believes the PR number and head SHA only where GitHub's own event agrees; the renderers escape
 * every string; comparisons are recomputed from the records (cells.ts); no path named inside a
 * record (a stage log) is ever opened. What GitHub said (the `workflow_run` event, the PR from
 * the API) is trusted.
 */
import { loadKnownIssues } from "../../../matrix/known-issues.ts";
import { type Annotation, failureAnnotations } from "../../../reports/annotations.ts";
import { type SummaryCounts, summaryCounts } from "../../../reports/cell-report.ts";
import { plainText } from "../../../reports/escape.ts";
import {
  PR_COMMENT_MARKER,
  type ReportInput,
  renderJobSummary,
  renderPrComment,
} from "../../../reports/pr-comment.ts";
import { loadCompareConfig } from "../compare/config.ts";
import type { Logger } from "../core/logger.ts";
import type { CheckAnnotation, CheckConclusion } from "../github/checks.ts";
import { publishCheckRun } from "../github/checks.ts";
import type { GitHub } from "../github/client.ts";
import { upsertStickyComment } from "../github/comments.ts";
import { callGitHub } from "../github/errors.ts";
import { onePerCell, pairCells } from "./cells.ts";
import {
  type Ingested,
  ingestArtifact,
  pullRequestMatchesRun,
  type Refused,
  type RunFacts,
} from "./ingest.ts";

/** The check run's name on the PR's head commit. */
export const CHECK_NAME = "pte-farm bench";

/** Where check-run annotations point: the farm definition, since a cell is a row of it. */
const ANNOTATION_PATH = "matrix/farm.yml";

/** The parts of GitHub's `workflow_run` event payload this reads (GitHub wrote them: trusted). */
export interface WorkflowRunEvent extends RunFacts {
  id: number;
  html_url: string;
  pull_requests: readonly { number: number }[];
}

export interface PrReportOptions {
  gh: GitHub;
  owner: string;
  repo: string;
  /** The downloaded `farm-results` artefact folder (absent when the run uploaded none). */
  artifactDir: string;
  run: WorkflowRunEvent;
  knownIssuesFile: string;
  /** The farm dashboard's base URL (empty or absent: none); cells link to their pages. */
  dashboardUrl?: string | null;
  compareConfigFile?: string;
  logger: Logger;
}

export interface PrReportResult {
  /** Null when no comment was written (refused artefact, or a newer push made this run stale). */
  commentUrl: string | null;
  checkRunUrl: string;
  conclusion: CheckConclusion;
  counts: SummaryCounts | null;
  /** The job summary (same table as the comment). */
  summary: string;
  annotations: Annotation[];
  refused: string | null;
}

/** The check's conclusion: a failed gate, stage or regression fails it; infrastructure alone is neutral. */
export function conclusionFor(counts: SummaryCounts, missing = 0): CheckConclusion {
  if (counts.gatesFailed + counts.stageFailures + counts.regressions > 0) return "failure";
  if (counts.infraErrors > 0 || missing > 0 || counts.cells === 0) return "neutral";
  return "success";
}

function checkTitle(counts: SummaryCounts, missing: number): string {
  const parts = [`${counts.cells} cells`];
  if (missing > 0) parts.push(`${missing} sent no result`);
  if (counts.gatesFailed > 0) parts.push(`${counts.gatesFailed} gates failed`);
  if (counts.stageFailures > 0) parts.push(`${counts.stageFailures} stages failed`);
  if (counts.regressions > 0) parts.push(`${counts.regressions} regressions`);
  if (counts.inconclusive > 0) parts.push(`${counts.inconclusive} inconclusive`);
  if (counts.infraErrors > 0) parts.push(`${counts.infraErrors} infrastructure errors (not regressions)`);
  if (parts.length === 1) parts.push("all gates passed, no regression");
  return parts.join(", ");
}

function toCheckAnnotation(a: Annotation): CheckAnnotation {
  return {
    path: ANNOTATION_PATH,
    start_line: 1,
    end_line: 1,
    annotation_level: a.level === "error" ? "failure" : "warning",
    title: a.title,
    message: a.message,
  };
}

function rejectedList(rejected: Ingested["rejected"]): string {
  if (rejected.length === 0) return "";
  const lines = rejected
    .slice(0, 50)
    .map((r) => `- \`${plainText(r.file, 200).replaceAll("`", "'")}\`: ${plainText(r.reason, 300)}`);
  if (rejected.length > 50) lines.push(`- and ${rejected.length - 50} more`);
  return `\n\n**Files in the artefact that were not used** (${rejected.length}):\n${lines.join("\n")}\n`;
}

/** Whether PR `pr` is the pull request this run built (asked for fork PRs, absent from the event). */
async function verifyPull(o: PrReportOptions, pr: number): Promise<boolean> {
  const { data } = await callGitHub(
    { action: `read pull request #${pr}`, permission: "pull-requests: read" },
    () => o.gh.rest.pulls.get({ owner: o.owner, repo: o.repo, pull_number: pr }),
  );
  const why = pullRequestMatchesRun(data, o.run);
  if (why !== null) o.logger.warn(why);
  return why === null;
}

async function refusedReport(o: PrReportOptions, refused: Refused): Promise<PrReportResult> {
  o.logger.error(`results artefact refused: ${refused.reason}`);
  const summary =
    `### pte-farm could not report this run\n\n${plainText(refused.reason, 2000)}` +
    `${rejectedList(refused.rejected)}\n[Workflow run](${o.run.html_url})\n`;
  const check = await publishCheckRun(o.gh, {
    owner: o.owner,
    repo: o.repo,
    headSha: o.run.head_sha,
    name: CHECK_NAME,
    conclusion: "failure",
    title: plainText(`results refused: ${refused.reason}`, 200),
    summary,
    detailsUrl: o.run.html_url,
    logger: o.logger,
  });
  return {
    commentUrl: null,
    checkRunUrl: check.url,
    conclusion: "failure",
    counts: null,
    summary,
    annotations: [],
    refused: refused.reason,
  };
}

export async function publishPrReport(o: PrReportOptions): Promise<PrReportResult> {
  const ingested = await ingestArtifact(o.artifactDir, {
    headSha: o.run.head_sha,
    pullRequests: o.run.pull_requests.map((p) => p.number),
    verifyPullRequest: (pr) => verifyPull(o, pr),
  });
  if (!ingested.ok) return refusedReport(o, ingested);
  for (const r of ingested.rejected) o.logger.warn(`not used: ${r.file}: ${r.reason}`);

  const [config, knownIssues] = await Promise.all([
    loadCompareConfig(o.compareConfigFile),
    loadKnownIssues(o.knownIssuesFile),
  ]);
  const heads = onePerCell(
    ingested.records.filter((e) => e.record.role === "head"),
    "head",
  );
  const bases = onePerCell(
    ingested.records.filter((e) => e.record.role !== "head"),
    "base",
  );
  const paired = pairCells(heads, bases, { config });
  for (const note of paired.notes) o.logger.warn(note);
  const reported = new Set(heads.keys());
  const missing = (ingested.expectedCells ?? []).filter((c) => !reported.has(c));
  if (missing.length > 0)
    o.logger.warn(`${missing.length} planned cell(s) sent no run record: ${missing.join(", ")}`);
  const input: ReportInput = {
    cells: paired.cells,
    missing,
    knownIssues,
    runUrl: o.run.html_url,
    dashboardUrl: o.dashboardUrl ?? null,
    headSha: ingested.headSha,
    baseSha: paired.cells.find((c) => c.base != null)?.base?.git_sha ?? null,
  };
  const counts = summaryCounts(paired.cells);
  const annotations = failureAnnotations(paired.cells);
  const summary = renderJobSummary(input) + rejectedList(ingested.rejected);
  const conclusion = conclusionFor(counts, missing.length);

  const check = await publishCheckRun(o.gh, {
    owner: o.owner,
    repo: o.repo,
    headSha: ingested.headSha,
    name: CHECK_NAME,
    conclusion,
    title: checkTitle(counts, missing.length),
    summary,
    annotations: annotations.map(toCheckAnnotation),
    detailsUrl: o.run.html_url,
    logger: o.logger,
  });

  // A run that finished after a newer push must not overwrite the newer run's comment.
  const { data: pull } = await callGitHub(
    { action: `read pull request #${ingested.pr}`, permission: "pull-requests: read" },
    () => o.gh.rest.pulls.get({ owner: o.owner, repo: o.repo, pull_number: ingested.pr }),
  );
  const current = pull.head.sha === ingested.headSha;
  let commentUrl: string | null = null;
  if (!current) {
    o.logger.warn(
      `PR #${ingested.pr} has moved on to ${pull.head.sha}; this run (${ingested.headSha}) updates only its check run`,
    );
  } else {
    const comment = await upsertStickyComment(o.gh, {
      owner: o.owner,
      repo: o.repo,
      issueNumber: ingested.pr,
      marker: PR_COMMENT_MARKER,
      body: renderPrComment(input),
      logger: o.logger,
    });
    o.logger.info(`PR #${ingested.pr}: comment ${comment.action} (${comment.url})`);
    commentUrl = comment.url;
  }
  return { commentUrl, checkRunUrl: check.url, conclusion, counts, summary, annotations, refused: null };
}
