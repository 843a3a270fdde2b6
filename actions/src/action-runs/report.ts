/**
 * The report action: farm-report's sticky comment and check run (mode pr), farm-nightly's issues
 * (mode nightly). The GitHub facts come from the runner's environment and the event payload that
 * GitHub wrote (GITHUB_EVENT_PATH), never from an artefact.
 */
import { readFile } from "node:fs/promises";
import { cellPageUrl } from "../../../reports/dashboard/links.ts";
import { ConfigurationError, EXIT } from "../core/errors.ts";
import { arr, int, nullable, open, parseJson, str } from "../core/validate.ts";
import { createGitHub } from "../github/client.ts";
import { syncNightlyIssues } from "../publish/nightly-report.ts";
import { publishPrReport, type WorkflowRunEvent } from "../publish/pr-report.ts";
import { readBisects, readCanaries, readChannelRecords } from "../publish/upstream-inputs.ts";
import { syncUpstreamIssues } from "../publish/upstream-issues.ts";
import { apiUrl, repository, runnerEnv } from "./github-env.ts";
import { defineAction, VerdictFailure } from "./io.ts";

const repoRef = open({ full_name: str });
/** The `workflow_run` fields pr mode reads; GitHub's payload has many more. */
const workflowRunEvent = open({
  workflow_run: open({
    id: int,
    html_url: str,
    head_sha: str,
    head_repository: nullable(repoRef),
    repository: repoRef,
    pull_requests: arr(open({ number: int })),
  }),
});

async function workflowRun(): Promise<WorkflowRunEvent> {
  const file = runnerEnv("GITHUB_EVENT_PATH", "pr mode reads the workflow_run event payload");
  const text = await readFile(file, "utf8");
  try {
    return parseJson(workflowRunEvent, text, file).workflow_run as WorkflowRunEvent;
  } catch (err) {
    throw new ConfigurationError(
      `mode pr runs in a workflow triggered by workflow_run (farm-report.yml); this event is not one: ${(err as Error).message}`,
    );
  }
}

export const run = defineAction("report", async (io) => {
  const mode = io.oneOf("mode", ["pr", "nightly", "upstream"] as const);
  const { owner, repo } = repository();
  const gh = createGitHub({
    token: io.required("github-token"),
    baseUrl: apiUrl(),
    logger: io.logger,
  });
  const knownIssuesFile = io.requiredPath("known-issues");
  // Checked now, so a wrong URL is bad input before anything is posted (it throws if not http(s)).
  const dashboardUrl = io.input("dashboard-url") || null;
  cellPageUrl(dashboardUrl, "a/b/c/d@e");

  if (mode === "pr") {
    const result = await publishPrReport({
      gh,
      owner,
      repo,
      artifactDir: io.requiredPath("artifact"),
      run: await workflowRun(),
      knownIssuesFile,
      dashboardUrl,
      logger: io.logger,
    });
    io.output("comment-url", result.commentUrl ?? "");
    io.output("check-run-url", result.checkRunUrl);
    for (const a of result.annotations) {
      if (a.level === "error") io.logger.error(`${a.title}: ${a.message}`);
      else io.logger.warn(`${a.title}: ${a.message}`);
    }
    await io.summary(result.summary);
    // The verdict is the check run's to tell; the step fails only when the report itself could not be made.
    if (result.refused !== null) {
      throw new VerdictFailure(`the PR's results artefact was refused: ${result.refused}`, EXIT.usage);
    }
    return;
  }

  const server = process.env.GITHUB_SERVER_URL || "https://github.com";
  const runId = process.env.GITHUB_RUN_ID;
  const runUrl = runId ? `${server}/${owner}/${repo}/actions/runs/${runId}` : null;
  if (mode === "upstream") {
    const issues = await syncUpstreamIssues(gh, {
      owner,
      repo,
      bisects: await readBisects(io.requiredPath("bisects")),
      canaries: await readCanaries(io.requiredPath("canaries")),
      records: await readChannelRecords(io.requiredPath("tonight")),
      runUrl,
      logger: io.logger,
    });
    io.output("issues", issues);
    const rows = issues.map(
      (i) =>
        `| ${i.kind} | \`${i.key}\` | ${i.state} | ${i.action}${i.number === null ? "" : ` #${i.number}`} |`,
    );
    await io.summary(
      rows.length === 0
        ? "### pte-farm upstream\n\nNo upstream issue opened, updated or closed.\n"
        : `### pte-farm upstream: issues\n\n| kind | key | state | issue |\n|---|---|---|---|\n${rows.join("\n")}\n`,
    );
    return;
  }
  const result = await syncNightlyIssues({
    gh,
    owner,
    repo,
    history: /^(dir|git):/.test(io.required("history")) ? io.required("history") : io.path("history"),
    tonight: io.requiredPath("tonight"),
    confirmations: io.path("confirmations"),
    knownIssuesFile,
    runUrl,
    dashboardUrl,
    logger: io.logger,
  });
  io.output("issues", result.issues);
  const lines = result.issues.map(
    (i) =>
      `| \`${i.cell}\` | ${i.metric} | ${i.state} | ${i.action}${i.number === null ? "" : ` #${i.number}`} |`,
  );
  await io.summary(
    lines.length === 0
      ? "### pte-farm nightly\n\nNo regression opened, updated or closed tonight.\n"
      : `### pte-farm nightly: issues\n\n| cell | metric | state | issue |\n|---|---|---|---|\n${lines.join("\n")}\n`,
  );
});
